"""Detect boxes in point-cloud files with a trained detector, in any runtime.

    geo3d infer deploy/pp scans/ --runtime onnxruntime --out boxes/
    geo3d infer deploy/pp scans/ --runtime tensorrt --out boxes/
    geo3d infer deploy/pp scans/ --runtime torch --checkpoint runs/pp/best.pt
    geo3d infer configs/pointpillars_kitti.yaml velodyne/ --checkpoint best.pt \\
        --format kitti --kitti-root KITTI/training --out labels/

SOURCE is an export directory (``tools/export.py``: its manifest rebuilds the pre- and
postprocessing, its ONNX or engine runs the core) or a config (the PyTorch model; needs
``--checkpoint``). INPUTS are files or folders of point clouds (KITTI ``.bin``, ``.pcd``,
``.ply``, ``.xyz``, ``.npy``...): x, y, z and the intensity where the file has one (zeros
otherwise). Each frame's boxes are written to ``--out`` as JSON (``{"boxes": [{"box": [x,
y, z, dx, dy, dz, heading], "score", "label"}]}``, which ``tools/visualize.py points FILE
--boxes JSON`` draws) or, with ``--format kitti``, as KITTI label files in the camera frame
(``--kitti-root`` holds ``calib/`` and ``image_2/`` for each frame name).
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch

from geo3d.data.io import read_points
from geo3d.data.io.points import POINT_FORMATS
from geo3d.engine.checkpoint import fit_weights, load_checkpoint, load_model_weights
from geo3d.engine.cli import add_checkpoint_options, tool_parser


def point_files(inputs: list[str]) -> list[str]:
    """The point-cloud files named or inside the named folders, sorted per folder."""
    files = []
    for path in inputs:
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.lower().endswith(POINT_FORMATS))
            files += [os.path.join(path, n) for n in names]
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    if not files:
        raise ValueError(f"no point-cloud files ({', '.join(POINT_FORMATS)}) in {inputs}")
    return files


def frame_name(path: str) -> str:
    name = os.path.basename(path)
    for suffix in sorted(POINT_FORMATS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return os.path.splitext(name)[0]


def load_cloud(path: str, channels: int) -> torch.Tensor:
    """``(N, channels)`` float32: x, y, z, then intensity (zeros where the file has none)."""
    cloud = read_points(path)
    columns = [cloud["xyz"]]
    if channels > 3:
        intensity = cloud.get("intensity", torch.zeros(cloud["xyz"].shape[0]))
        columns.append(intensity[:, None].float())
    if channels > 4:
        columns.append(torch.zeros(cloud["xyz"].shape[0], channels - 4))
    return torch.cat(columns, dim=1)


def build(args):
    """(deployed detector, class names) for SOURCE and the runtime."""
    from geo3d.export import load_deployed
    from geo3d.export.exporter import MANIFEST, read_manifest
    from geo3d.export.runtime import DeployedDetector, TorchRuntime, detector_from_manifest

    if os.path.isdir(args.source) and os.path.isfile(os.path.join(args.source, MANIFEST)):
        manifest = read_manifest(args.source)
        detector = None
        if args.runtime == "torch":
            if not args.checkpoint:
                raise ValueError("--runtime torch needs --checkpoint (the export holds no weights)")
            detector = detector_from_manifest(manifest)
            load_model_weights(detector, args.checkpoint, unsafe=args.unsafe_load_checkpoint)
        return load_deployed(args.source, args.runtime, detector), manifest["classes"]
    if os.path.isdir(args.source):
        raise FileNotFoundError(f"{args.source}: not an export directory (no {MANIFEST})")
    from geo3d.engine import load_config
    from geo3d.models import create_model

    if args.runtime != "torch":
        raise ValueError(f"--runtime {args.runtime} needs an export directory, not a config")
    if not args.checkpoint:
        raise ValueError("a config needs --checkpoint with the trained weights")
    config = load_config(args.source, args.set)
    state = load_checkpoint(args.checkpoint, unsafe=args.unsafe_load_checkpoint)
    from geo3d.engine.data import build_datasets

    classes = build_datasets(config.data).classes
    detector = create_model(config.model.name, num_classes=len(classes), **config.model.options)
    fit_weights(detector, state, args.checkpoint)
    return DeployedDetector(detector, TorchRuntime(detector)), list(classes)


def write_json(path: str, found: dict, classes: list[str]) -> None:
    boxes = [
        {"box": [round(float(v), 5) for v in box], "score": float(score), "label": classes[label]}
        for box, score, label in zip(
            found["boxes"].tolist(), found["scores"].tolist(), found["labels"].tolist()
        )
    ]
    with open(path, "w") as handle:
        json.dump({"boxes": boxes}, handle, indent=1)


def write_kitti(path: str, found: dict, classes: list[str], root: str, frame: str) -> None:
    from geo3d.data.io.kitti import (
        lidar_boxes_to_kitti_anno,
        read_image_shape,
        read_kitti_calibration,
        write_kitti_labels,
    )

    calibration = read_kitti_calibration(os.path.join(root, "calib", f"{frame}.txt"))
    image = os.path.join(root, "image_2", f"{frame}.png")
    shape = read_image_shape(image) if os.path.isfile(image) else None
    names = [classes[i] for i in found["labels"].tolist()]
    anno = lidar_boxes_to_kitti_anno(
        found["boxes"].double().numpy(), names, found["scores"].double().numpy(), calibration, shape
    )
    write_kitti_labels(path, anno)


def main(argv: list[str] | None = None) -> int:
    from geo3d.export import RUNTIMES

    parser = tool_parser(__doc__)
    parser.add_argument("source", help="an export directory or a config")
    parser.add_argument("inputs", nargs="+", help="point-cloud files or folders")
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=None,
        help="default: onnxruntime for an export directory, torch for a config",
    )
    parser.add_argument("--checkpoint", help="weights for the torch runtime")
    parser.add_argument("--out", default=None, help="folder for the boxes (default: print)")
    parser.add_argument("--format", choices=("json", "kitti"), default="json")
    parser.add_argument("--kitti-root", help="with --format kitti: the folder of calib/")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    add_checkpoint_options(parser)
    args = parser.parse_args(argv)
    if args.runtime is None:
        args.runtime = "onnxruntime" if os.path.isdir(args.source) else "torch"
    if args.format == "kitti" and not args.kitti_root:
        parser.error("--format kitti needs --kitti-root (calibration to the camera frame)")
    files = point_files(args.inputs)
    deployed, classes = build(args)
    encoder = deployed.detector.encoder
    channels = encoder.vfe.in_channels if hasattr(encoder, "vfe") else encoder.in_channels
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    started = time.perf_counter()
    for path in files:
        found = deployed(load_cloud(path, channels))
        frame = frame_name(path)
        summary = ", ".join(
            f"{(found['labels'] == i).sum()} {name}" for i, name in enumerate(classes)
        )
        print(f"{frame}: {found['boxes'].shape[0]} boxes ({summary})")
        if args.out and args.format == "json":
            write_json(os.path.join(args.out, f"{frame}.json"), found, classes)
        elif args.out:
            write_kitti(
                os.path.join(args.out, f"{frame}.txt"), found, classes, args.kitti_root, frame
            )
    elapsed = time.perf_counter() - started
    print(
        f"{len(files)} frames in {elapsed:.1f} s with {deployed.runtime.name}"
        + (f"; boxes in {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return 0
