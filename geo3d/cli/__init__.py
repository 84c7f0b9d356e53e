"""The ``geo3d`` command: one entry point whose sub-commands run the tools.

    geo3d train pointpn_synthetic [--set train.epochs=5]   # a shipped config by name
    geo3d test configs/pointpn_synthetic.yaml runs/pointpn_synthetic/best.pt
    geo3d visualize | export | infer | benchmark | ablate-pooling | configs

``python -m geo3d ...`` is the same command, and ``tools/<name>.py`` in a checkout are thin
wrappers around it. Each sub-command's ``--help`` says what it does.
"""

from __future__ import annotations

import difflib
import importlib
import sys

# sub-command -> (module with main(argv), one line for the overview)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("geo3d.cli.train", "train and evaluate a config (torchrun for several processes)"),
    "test": ("geo3d.cli.test", "evaluate a checkpoint on the test (and validation) split"),
    "visualize": ("geo3d.cli.visualize", "draw scenes, boxes, meshes and predictions (PNG)"),
    "export": ("geo3d.cli.export", "export a detector to ONNX (and a TensorRT engine)"),
    "infer": ("geo3d.cli.infer", "run a detector (PyTorch or an export) on point files"),
    "benchmark": ("geo3d.benchmarks.benchmark", "speed tables against the installed peers"),
    "ablate-pooling": ("geo3d.cli.ablate_pooling", "train one config per pooling family"),
    "configs": ("geo3d.cli.configs", "list the shipped configs (usable by name)"),
}


def usage() -> str:
    from geo3d import __version__

    width = max(len(name) for name in COMMANDS)
    lines = [
        f"geo3d {__version__}: 3D perception on point clouds and meshes",
        "",
        "usage: geo3d <command> [options]     (geo3d <command> --help for its options)",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def run_command(name: str, argv: list[str] | None = None) -> int:
    """Run sub-command ``name`` with ``argv`` (default: the process's arguments), turning a
    user's mistake into one line and exit status 2 (:func:`geo3d.engine.cli.run_tool`)."""
    from geo3d.engine.cli import run_tool

    module = importlib.import_module(COMMANDS[name][0])
    sys.argv[0] = f"geo3d {name}"  # what argparse shows as the program in usage lines
    arguments = sys.argv[1:] if argv is None else argv
    return run_tool(lambda: module.main(arguments))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from geo3d import __version__

        print(f"geo3d {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"error: unknown command '{name}'{hint}; 'geo3d --help' lists them", file=sys.stderr)
        return 2
    return run_command(name, argv[1:])
