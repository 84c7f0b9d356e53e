"""Swap the neighbourhood pooling of a model and compare, on the same budget.

    python tools/ablate_pooling.py                                   # Point-PN, synthetic_shapes
    python tools/ablate_pooling.py --epochs 20 --poolings max+mean soft attention

Trains ``--config`` once per pooling (``model.options.pooling``), with the same seed, data
and epochs, and prints a Markdown table of test OA and time per epoch (training and
validation); the table is also written to ``<output>/ablation.md``.
"""

from __future__ import annotations

import json
import os
import sys

from geo3d.engine import load_config, run
from geo3d.engine.cli import run_tool, tool_parser
from geo3d.pooling import POOLINGS


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("--config", default="configs/pointpn_synthetic.yaml")
    parser.add_argument(
        "--poolings", nargs="+", default=["max+mean", "soft", "attention"], choices=POOLINGS
    )
    parser.add_argument("--epochs", type=int, default=None, help="override train.epochs")
    parser.add_argument("--output", default="runs/ablation")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    rows = []
    for pooling in args.poolings:
        overrides = [
            *args.set,
            f"model.options.pooling={json.dumps(pooling)}",
            f"output_dir={args.output}",
            f"name=pooling_{pooling.replace('+', '_')}",
        ]
        if args.epochs is not None:
            overrides.append(f"train.epochs={args.epochs}")
        config = load_config(args.config, overrides)
        results = run(config)
        rows.append(
            (
                pooling,
                results["parameters"],
                results["test_oa"],
                results["test_macc"],
                results["seconds"] / config.train.epochs,
                config.train.epochs,
            )
        )
    lines = [
        "| pooling | parameters | test OA | test mAcc | s per epoch | epochs |",
        "|---|---|---|---|---|---|",
    ]
    for pooling, params, oa, macc, per_epoch, epochs in rows:
        lines.append(
            f"| {pooling} | {params:,} | {100 * oa:.1f} % | {100 * macc:.1f} % | {per_epoch:.1f} "
            f"| {epochs} |"
        )
    table = "\n".join(lines)
    print(table)
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "ablation.md"), "w") as handle:
        handle.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
