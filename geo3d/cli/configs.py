"""List the configs shipped with geo3d; each name works wherever a config path does.

geo3d configs            # names, one per line, with each file's first comment line
geo3d train pointpn_synthetic
"""

from __future__ import annotations

import os

from geo3d.engine.cli import tool_parser
from geo3d.paths import available_configs, find_config


def first_comment(path: str) -> str:
    with open(path) as handle:
        for line in handle:
            if line.startswith("#"):
                return line.lstrip("# ").rstrip()
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = tool_parser(__doc__)
    parser.add_argument("--paths", action="store_true", help="print each file's path as well")
    args = parser.parse_args(argv)
    names = available_configs()
    if not names:
        print("no shipped configs found (a broken install?)")
        return 1
    width = max(len(name) for name in names)
    for name in names:
        path = find_config(name)
        shown = os.path.abspath(path) if args.paths else first_comment(path)
        print(f"{name:<{width}}  {shown}")
    return 0
