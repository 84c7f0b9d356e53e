"""`python tools/train.py ...` is `geo3d train ...` (geo3d/cli/; `geo3d train --help`)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("train"))
