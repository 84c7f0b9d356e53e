"""Swap the pooling of a model and compare, on the same budget.

    geo3d ablate-pooling                                   # Point-PN, synthetic_shapes
    geo3d ablate-pooling --epochs 20 --poolings max+mean soft attention
    geo3d ablate-pooling --config configs/dsvt_pillar_synthetic.yaml \
        --poolings max soft attention                                # a detector's VFE pooling
    geo3d ablate-pooling --config configs/dsvt_voxel_synthetic.yaml \
        --option reduction --poolings attention max                  # DSVT's 3D pooling

Trains ``--config`` once per pooling (``model.options.<option>``, ``pooling`` unless
``--option`` names another, e.g. ``reduction`` for DSVT-Voxel's 3D pooling), with the same
seed, data and epochs, and prints a Markdown table, also written to
``<output>/ablation.md``: test OA and mAcc for classifiers; for detectors, the moderate BEV
and 3D AP (R40) per class and their means. Time per epoch includes training and validation.
"""

from __future__ import annotations

import json
import os

from geo3d.engine import load_config, run
from geo3d.engine.cli import tool_parser
from geo3d.pooling import POOLINGS


def table_lines(rows, option: str = "pooling") -> list[str]:
    """The Markdown table of ``(pooling, results, config)`` rows, by task; the first column
    is headed by the swapped model ``option``."""
    detection = rows and rows[0][2].data.task == "detection"
    if detection:
        classes = sorted({k.split("_")[1] for k in rows[0][1] if k.endswith("_bev_moderate")})
        head = [f"BEV {c}" for c in classes] + [f"3D {c}" for c in classes] + ["mean BEV / 3D"]
    else:
        head = ["test OA", "test mAcc"]
    lines = [
        f"| {option} | parameters | " + " | ".join(head) + " | s per epoch | epochs |",
        "|---|---|" + "---|" * len(head) + "---|---|",
    ]
    for pooling, results, config in rows:
        if detection:
            cells = [
                f"{100 * results[f'test_{c}_{m}_moderate']:.1f}"
                for m in ("bev", "3d")
                for c in classes
            ]
            cells.append(
                f"{100 * results['test_map_bev']:.1f} / {100 * results['test_map_3d']:.1f}"
            )
        else:
            cells = [f"{100 * results['test_oa']:.1f} %", f"{100 * results['test_macc']:.1f} %"]
        per_epoch = results["seconds"] / config.train.epochs
        lines.append(
            f"| {pooling} | {results['parameters']:,} | "
            + " | ".join(cells)
            + f" | {per_epoch:.1f} | {config.train.epochs} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("--config", default="configs/pointpn_synthetic.yaml")
    parser.add_argument(
        "--option",
        default="pooling",
        help="the model option to swap (default pooling; reduction: DSVT-Voxel's 3D pooling)",
    )
    parser.add_argument("--poolings", nargs="+", default=["max+mean", "soft", "attention"])
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    parser.add_argument("--output", default="runs/ablation")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    if args.option == "pooling":
        unknown = [p for p in args.poolings if p not in POOLINGS]
        if unknown:
            parser.error(f"unknown pooling {unknown}; choose from {list(POOLINGS)}")
    rows = []
    for pooling in args.poolings:
        overrides = [
            *args.set,
            f"model.options.{args.option}={json.dumps(pooling)}",
            f"output_dir={args.output}",
            f"name={args.option}_{pooling.replace('+', '_')}",
        ]
        if args.epochs is not None:
            overrides.append(f"train.epochs={args.epochs}")
        config = load_config(args.config, overrides)
        results = run(config)
        rows.append((pooling, results, config))
    lines = table_lines(rows, args.option)
    table = "\n".join(lines)
    print(table)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "ablation.md"), "w") as handle:
        handle.write(table + "\n")
    return 0
