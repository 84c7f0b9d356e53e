"""Train and evaluate any config.

    geo3d train configs/pointpn_synthetic.yaml [--set train.epochs=5 ...] [--resume]
    torchrun --nproc_per_node=2 tools/train.py configs/pointpn_synthetic.yaml

Writes ``<output_dir>/<name>/``: last.pt and best.pt, metrics.jsonl, train.log,
curves.png and results.json. Training-free models (Point-NN) build their memory bank.
"""

from __future__ import annotations

from geo3d.engine import load_config, run
from geo3d.engine.cli import add_checkpoint_options, tool_parser
from geo3d.engine.distributed import shutdown


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("config", help="a YAML experiment file (see configs/)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from <output>/<name>/last.pt"
    )
    parser.add_argument("--output", help="output folder (overrides output_dir)")
    add_checkpoint_options(parser)
    args = parser.parse_args(argv)
    overrides = list(args.set) + ([f"output_dir={args.output}"] if args.output else [])
    try:
        config = load_config(args.config, overrides)
        results = run(config, resume=args.resume, unsafe_load=args.unsafe_load_checkpoint)
    finally:
        shutdown()
    tests = {k[5:]: v for k, v in results.items() if k.startswith("test_")}
    if tests:
        shown = ", ".join(f"{name} {value:.4f}" for name, value in tests.items())
        print(f"{config.name}: test {shown} ({results['seconds']:.0f} s)")
    return 0
