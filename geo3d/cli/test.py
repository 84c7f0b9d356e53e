"""Evaluate a checkpoint of a config on its test split (and validation split).

geo3d test configs/pointpn_synthetic.yaml runs/pointpn_synthetic/best.pt

KITTI detectors can also write their detections as KITTI label files (camera frame, with
scores), one per frame, for the official devkit or the benchmark's server:

geo3d test configs/pointpillars_kitti.yaml best.pt --set data.root=KITTI \
    --kitti-labels out/ --kitti-split test
"""

from __future__ import annotations

import json
import sys

import torch

from geo3d.engine import load_config
from geo3d.engine.checkpoint import fit_weights, load_checkpoint
from geo3d.engine.cli import add_checkpoint_options, tool_parser
from geo3d.engine.data import build_datasets
from geo3d.engine.evaluation import write_kitti_predictions
from geo3d.engine.tasks import make_task
from geo3d.engine.trainer import evaluate
from geo3d.models import create_model


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--kitti-labels", metavar="DIR", help="write KITTI label files of the detections here"
    )
    parser.add_argument(
        "--kitti-split",
        default="val",
        help="the ImageSets split written with --kitti-labels (val; test: the unlabelled "
        "testing/ frames, evaluation skipped)",
    )
    add_checkpoint_options(parser)
    args = parser.parse_args(argv)
    config = load_config(args.config, args.set)
    # a bad or unsafe file fails before the data is built
    checkpoint = load_checkpoint(args.checkpoint, unsafe=args.unsafe_load_checkpoint)
    data = build_datasets(config.data)
    model = create_model(config.model.name, num_classes=len(data.classes), **config.model.options)
    fit_weights(model, checkpoint, args.checkpoint)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    task = make_task(data)
    if args.kitti_labels:
        if config.data.dataset != "kitti":
            raise ValueError(
                f"--kitti-labels needs the kitti data set, not {config.data.dataset!r}"
            )
        from geo3d.data.datasets import KittiDetection

        frames = KittiDetection(config.data.root, args.kitti_split, classes=data.classes)
        count = write_kitti_predictions(model, frames, config, device, task, args.kitti_labels)
        print(f"wrote {count} KITTI label files to {args.kitti_labels}", file=sys.stderr)
        if args.kitti_split == "test":
            return 0
    results = {}
    for split, dataset in (("val", data.val), ("test", data.test)):
        if split == "test" and dataset is data.val:  # KITTI: the val split serves as test
            metrics = {k[len("val_") :]: v for k, v in results.items()}
        else:
            metrics = evaluate(model, dataset, config, device, 0, 1, task)
        results.update({f"{split}_{name}": value for name, value in metrics.items()})
    print(json.dumps(results, indent=2))
    return 0
