"""`python tools/ablate_pooling.py ...` is `geo3d ablate-pooling ...` (see geo3d/cli/)."""

import sys

from geo3d.cli import run_command

if __name__ == "__main__":
    sys.exit(run_command("ablate-pooling"))
