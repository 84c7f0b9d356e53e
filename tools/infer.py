"""`python tools/infer.py ...` is `geo3d infer ...` (geo3d/cli/; `geo3d infer --help`)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("infer"))
