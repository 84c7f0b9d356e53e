"""The tools' one rule for errors: a user's mistake (a bad config value, a missing or
corrupt file, a checkpoint that does not fit the model) is one readable line on stderr and
exit status 2, never a traceback. ``GEO3D_TRACEBACK=1`` shows the traceback as well."""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import traceback
from collections.abc import Callable

from geo3d.optional import MissingDependencyError

# Errors that geo3d raises for bad input (ValueError, TypeError), that files raise when
# missing, unreadable or truncated (OSError, EOFError, UnpicklingError), and that torch
# raises for a checkpoint that does not fit or a kernel's input check (RuntimeError).
# A missing optional dependency (MissingDependencyError) names the extra to install.
USER_ERRORS = (
    ValueError,
    TypeError,
    OSError,
    EOFError,
    pickle.UnpicklingError,
    RuntimeError,
    MissingDependencyError,
)


def one_line(error: BaseException) -> str:
    """``error`` as one line: its type where the message alone is unclear, newlines folded."""
    text = " ".join(part.strip() for part in str(error).splitlines() if part.strip())
    if isinstance(error, OSError) and error.filename and str(error.filename) not in text:
        text = f"{error.filename}: {text}"
    if not text:
        text = type(error).__name__
    elif not isinstance(error, (ValueError, OSError, MissingDependencyError)):
        text = f"{type(error).__name__}: {text}"
    return text


def run_tool(main: Callable[[], int]) -> int:
    """Run a tool's ``main`` and turn a user error into ``error: <one line>`` and status 2."""
    try:
        return main()
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except USER_ERRORS as error:
        if os.environ.get("GEO3D_TRACEBACK"):
            traceback.print_exc()
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def tool_parser(doc: str | None) -> argparse.ArgumentParser:
    """The tools' argument parser: the tool's module docstring as its help, kept as written."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def add_checkpoint_options(parser: argparse.ArgumentParser) -> None:
    """``--unsafe-load-checkpoint``: the loud opt-in to full unpickling of checkpoints."""
    parser.add_argument(
        "--unsafe-load-checkpoint",
        action="store_true",
        help="load a checkpoint that is not plain data (an old or foreign file) with full "
        "unpickling. RISK: unpickling runs whatever code the file names; use it only for "
        "files you wrote yourself or fully trust",
    )
