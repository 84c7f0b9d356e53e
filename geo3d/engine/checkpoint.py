"""Checkpoints that survive interruption and cannot run code.

A geo3d checkpoint holds tensors and plain data only (dicts, lists, tuples, strings,
numbers, ``None``): model, optimiser and scheduler state, epoch, best metric, history, the
config as a dict, and the random states of Python, NumPy and torch converted to tensors and
numbers (:func:`random_states`). Files are written atomically (a temporary file, fsync,
rename) and read with ``torch.load(weights_only=True)``, which refuses any pickled object
that is not such data: a checkpoint from the internet is never code
(https://pytorch.org/docs/stable/notes/serialization.html#weights-only).

The one exception, kept narrow: checkpoints written by geo3d before this format stored
NumPy's random state as an ``ndarray``; those load with NumPy's three array globals allowed
(``torch.serialization.safe_globals``) and nothing else. Any other global in a file gets a
one-line refusal naming it. ``unsafe=True`` (the tools' ``--unsafe-load-checkpoint``) is the
loud opt-in to full unpickling, for files the user wrote and trusts.
"""

from __future__ import annotations

import os
import pickle
import random
import sys
import warnings

import numpy as np
import torch
from torch import nn


class UnsafeCheckpointError(ValueError):
    """A checkpoint that is not plain data (it names Python globals, so loading it could run
    code); the message names the file and the globals."""


def save_atomic(state: dict, path: str) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename: a crash leaves
    the previous checkpoint intact, never a half-written one."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    torch.save(state, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def random_states() -> dict:
    """Every random state as tensors and numbers (loads with ``weights_only=True``)."""
    version, python_state, gauss = random.getstate()
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {
        "python": {
            "version": version,
            "state": torch.tensor(python_state, dtype=torch.int64),
            "gauss_next": gauss,
        },
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_random_states(states: dict) -> None:
    """Inverse of :func:`random_states`; also takes the older form (Python's tuple, NumPy's
    ``get_state`` tuple) of checkpoints written before it."""
    python = states["python"]
    if isinstance(python, dict):
        python = (python["version"], tuple(python["state"].tolist()), python["gauss_next"])
    random.setstate(python)
    state = states["numpy"]
    if isinstance(state, dict):
        keys = state["keys"].numpy().astype(np.uint32)
        state = (state["name"], keys, state["position"], state["has_gauss"])
        state += (states["numpy"]["cached_gaussian"],)
    np.random.set_state(state)
    torch.set_rng_state(states["torch"])
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


# What a checkpoint of an older geo3d needs beyond plain data: NumPy's random state array.
_LEGACY_NUMPY_GLOBALS = {
    "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray._reconstruct",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.dtypes.UInt32DType",
}


def _legacy_allowlist() -> list:
    from numpy.dtypes import UInt32DType

    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy 1.x
        from numpy.core.multiarray import _reconstruct
    return [_reconstruct, np.ndarray, np.dtype, UInt32DType]


def _unsafe_globals(path: str) -> list[str]:
    try:
        return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001 (not a zip checkpoint: reported by torch.load)
        return []


def load_checkpoint(path: str, unsafe: bool = False) -> dict:
    """The checkpoint at ``path`` as a dict, loaded without running code (module docstring).

    Raises ``FileNotFoundError`` for a missing file, :class:`UnsafeCheckpointError` for a
    file that names Python globals (anything but plain data), ``ValueError`` for a file that
    is not a readable checkpoint or not a dict. ``unsafe=True`` unpickles everything, with a
    warning on stderr: only for files you wrote yourself."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if unsafe:
        print(
            f"warning: {path}: loading with full unpickling (--unsafe-load-checkpoint); "
            "a checkpoint from anyone else can run code this way",
            file=sys.stderr,
        )
        state = _load(path, weights_only=False)
    else:
        names = _unsafe_globals(path)
        if names and not set(names) <= _LEGACY_NUMPY_GLOBALS:
            shown = ", ".join(sorted(set(names))[:4])
            raise UnsafeCheckpointError(
                f"{path}: not a geo3d checkpoint, or it contains code (it names {shown}); "
                "refusing to load it (--unsafe-load-checkpoint loads a file you trust)"
            )
        if names:
            with torch.serialization.safe_globals(_legacy_allowlist()):
                state = _load(path, weights_only=True)
        else:
            state = _load(path, weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a checkpoint (it holds a {type(state).__name__})")
    return state


RESUME_KEYS = ("model", "optimizer", "scheduler", "epoch", "best", "history", "random")


def check_resume_state(state: dict, path: str) -> None:
    """A checkpoint to resume training from has every part of the training state."""
    missing = [k for k in RESUME_KEYS if k not in state]
    if missing:
        raise ValueError(
            f"{path}: cannot resume from it: it lacks {', '.join(missing)} (a geo3d last.pt "
            "holds the whole training state)"
        )


def _load(path: str, weights_only: bool):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as error:  # the weights-only unpickler's refusal
        first = str(error).strip().splitlines()[-1][:200]
        raise UnsafeCheckpointError(
            f"{path}: not a geo3d checkpoint, or it contains code ({first}); refusing to load "
            "it (--unsafe-load-checkpoint loads a file you trust)"
        ) from None
    except Exception as error:  # noqa: BLE001 (a truncated file raises many kinds)
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from None


# Where other projects keep the weights inside their checkpoint dicts: geo3d and MeshCNN
# ("model"), OpenPCDet ("model_state"), Lightning and many paper repositories
# ("state_dict"), some official Point-NN / Point-PN scripts ("net").
WEIGHT_KEYS = ("model", "model_state", "state_dict", "net")


def state_dict_of(state: dict, path: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model weights inside a loaded checkpoint: the dict itself when every value is a
    tensor (a plain state dict), else the first of :data:`WEIGHT_KEYS` that holds one."""
    if state and all(isinstance(v, torch.Tensor) for v in state.values()):
        return state
    for key in WEIGHT_KEYS:
        inner = state.get(key)
        if isinstance(inner, dict) and all(isinstance(v, torch.Tensor) for v in inner.values()):
            return inner
    raise ValueError(
        f"{path}: holds no model weights (neither a state dict of tensors nor one under "
        f"{', '.join(repr(k) for k in WEIGHT_KEYS)}; its keys: {sorted(map(str, state))[:8]})"
    )


def load_model_weights(model: nn.Module, path: str, unsafe: bool = False, prefix: str = ""):
    """Load the weights of the checkpoint at ``path`` (geo3d's, or a plain state dict saved
    by another project, :func:`state_dict_of`) into ``model`` through the safe loader
    (:func:`load_checkpoint`, then :func:`fit_weights`). Returns the whole checkpoint."""
    state = load_checkpoint(path, unsafe=unsafe)
    fit_weights(model, state, path, prefix)
    return state


def fit_weights(model: nn.Module, state: dict, path: str = "checkpoint", prefix: str = ""):
    """Put the weights of a loaded checkpoint ``state`` into ``model``. ``prefix`` is
    stripped from every key first (``"module."`` of DataParallel, say). Missing or
    unexpected keys and shape mismatches raise one ``ValueError`` that names the file, the
    model and the first few keys of each kind; nothing is loaded then."""
    weights = state_dict_of(state, path)
    if prefix:
        weights = {k.removeprefix(prefix): v for k, v in weights.items()}
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    mismatched = [
        f"{k} {tuple(weights[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    problems = []
    for label, keys in (
        ("missing", missing),
        ("unexpected", unexpected),
        ("of another shape (file vs model)", mismatched),
    ):
        if keys:
            more = ", ..." if len(keys) > 3 else ""
            problems.append(f"{len(keys)} {label}: {', '.join(keys[:3])}{more}")
    if problems:
        raise ValueError(
            f"{path}: the weights do not fit {type(model).__name__} ({'; '.join(problems)})"
        )
    model.load_state_dict(weights)
