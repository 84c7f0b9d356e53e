"""`python tools/visualize.py ...` is `geo3d visualize ...` (see geo3d/cli/)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("visualize"))
