"""Export a trained detector for deployment: its tensor core to ONNX, checked for what
TensorRT refuses, with a manifest (and a TensorRT engine where TensorRT and a GPU exist).

    geo3d export configs/pointpillars_synthetic.yaml runs/pp/best.pt --out deploy/pp
    geo3d export CONFIG CHECKPOINT --out DIR --fp16 --max-voxels 40000 --opset 18
    geo3d export CONFIG CHECKPOINT --out DIR --static --max-voxels 12000

The index work (voxels, pillars, set partitions, scatter indices) stays outside the graph as
native ops, and so do decoding and NMS; ``tools/infer.py`` runs them around any runtime.
Example scenes for tracing and the shape profile come from the config's validation split
(``--examples`` of them). ``--max-voxels`` is the profile's largest voxel count (default:
the config's evaluation cap, else 4 times the largest example's). ``--static`` fixes every
size at that maximum (each scene's inputs are padded to it; padding never reaches an output),
for runtimes and plugins that want fixed shapes; by default voxel, slot and set counts are
dynamic within the profile written to the manifest.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os

from geo3d.engine import load_config
from geo3d.engine.checkpoint import fit_weights, load_checkpoint
from geo3d.engine.cli import add_checkpoint_options, tool_parser
from geo3d.engine.config import config_to_dict
from geo3d.engine.data import build_datasets
from geo3d.models import create_model


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--out", required=True, help="the export directory")
    parser.add_argument("--fp16", action="store_true", help="a half-precision TensorRT engine")
    parser.add_argument("--max-voxels", type=int, default=None)
    parser.add_argument(
        "--max-points-per-voxel",
        type=int,
        default=0,
        help="for a model that keeps every point of a voxel: a deployed cap (the first N, "
        "hard voxelization's rule); default 0 keeps every point (exact)",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="fixed shapes at the profile's max (inputs padded); default: dynamic counts",
    )
    parser.add_argument("--opset", type=int, default=18, help="17 to 20 (TensorRT 10)")
    parser.add_argument("--examples", type=int, default=2, help="validation scenes to trace")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    add_checkpoint_options(parser)
    args = parser.parse_args(argv)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    from geo3d.export import export_detector, tensorrt_available

    config = load_config(args.config, args.set)
    if config.data.task != "detection":
        raise ValueError(f"{args.config}: only detectors export (task {config.data.task!r})")
    state = load_checkpoint(args.checkpoint, unsafe=args.unsafe_load_checkpoint)
    data = build_datasets(dataclasses.replace(config.data, augment=[]))  # no GT database
    model = create_model(config.model.name, num_classes=len(data.classes), **config.model.options)
    fit_weights(model, state, args.checkpoint)
    own_cap = model.preprocess.assigner.max_points_per_voxel
    count = min(args.examples, len(data.val))
    examples = [data.val[i]["points"] for i in range(count)]
    result = export_detector(
        model.eval(),
        examples,
        args.out,
        config=config_to_dict(config),
        classes=list(data.classes),
        opset=args.opset,
        max_voxels=args.max_voxels,
        fp16=args.fp16,
        static=args.static,
        max_points_per_voxel=args.max_points_per_voxel or None,
    )
    size = os.path.getsize(result.onnx_path) / 2**20
    print(
        f"wrote {result.onnx_path} ({size:.1f} MiB, opset {args.opset}): TensorRT op check passed"
    )
    for spec in result.manifest["inputs"]:
        print(f"  input  {spec['name']:<16} {spec['dtype']:<8} {spec['shape']}")
    for spec in result.manifest["outputs"]:
        print(f"  output {spec['name']:<16} {spec['dtype']:<8} {spec['shape']}")
    cap = result.manifest["max_points_per_voxel"]
    if own_cap is None and cap is not None:
        print(
            f"  note: the model was built to keep every point of a voxel; this export keeps "
            f"the first {cap} in every runtime, which lowers AP where voxels are dense "
            "(README, Deployment: measured costs)"
        )
    profile = ", ".join(f"{k} {v[0]}/{v[1]}/{v[2]}" for k, v in result.manifest["profile"].items())
    print(f"  profile (min/opt/max): {profile}")
    if result.engine_path:
        print(f"wrote {result.engine_path} ({result.manifest['precision']})")
    elif not tensorrt_available():
        installed = importlib.util.find_spec("tensorrt") is not None
        reason = "no CUDA device for TensorRT" if installed else "TensorRT is not installed"
        print(f"{reason} here: no engine built (the ONNX is ready for it)")
    return 0
