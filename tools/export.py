"""`python tools/export.py ...` is `geo3d export ...` (geo3d/cli/; `geo3d export --help`)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("export"))
