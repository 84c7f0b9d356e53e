"""`python tools/benchmark.py ...` is `geo3d benchmark ...` (see geo3d/cli/)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("benchmark"))
