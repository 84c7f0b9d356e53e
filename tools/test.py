"""`python tools/test.py ...` is `geo3d test ...` (geo3d/cli/; `geo3d test --help`)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("test"))
