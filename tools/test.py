"""Evaluate a checkpoint of a config on its test split (and validation split).

python tools/test.py configs/pointpn_synthetic.yaml runs/pointpn_synthetic/best.pt
"""

from __future__ import annotations

import json
import sys

import torch

from geo3d.engine import load_config
from geo3d.engine.checkpoint import load_checkpoint
from geo3d.engine.cli import run_tool, tool_parser
from geo3d.engine.data import build_datasets
from geo3d.engine.tasks import make_task
from geo3d.engine.trainer import evaluate
from geo3d.models import create_model


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.set)
    data = build_datasets(config.data)
    model = create_model(config.model.name, num_classes=len(data.classes), **config.model.options)
    model.load_state_dict(load_checkpoint(args.checkpoint)["model"])
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    results = {}
    for split, dataset in (("val", data.val), ("test", data.test)):
        metrics = evaluate(model, dataset, config, device, 0, 1, make_task(data))
        results.update({f"{split}_{name}": value for name, value in metrics.items()})
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(run_tool(main))
