"""``python -m geo3d``: the ``geo3d`` command (see :mod:`geo3d.cli`)."""

import sys

from geo3d.cli import main

sys.exit(main())
