"""Generate-once caching of the synthetic data sets."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable

import torch


def default_cache_dir() -> str:
    """``$GEO3D_CACHE``, else ``~/.cache/geo3d``."""
    return os.environ.get("GEO3D_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "geo3d"))


def cached(prefix: str, settings: dict, make: Callable[[], object], cache_dir=None):
    """``make()``'s result, stored under a name derived from ``settings``; ``cache_dir``
    False keeps it in memory only. Written through a temporary file and a rename, so a
    crash never leaves a half-written cache; read with ``weights_only=True``, so a cache
    file that is corrupt or holds anything but tensors and plain data is generated again
    (with a warning), never unpickled."""
    if cache_dir is False:
        return make()
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    folder = os.fspath(cache_dir) if cache_dir not in (None, True) else default_cache_dir()
    path = os.path.join(folder, f"{prefix}-{key}.pt")
    if os.path.exists(path):
        try:  # tensors and plain data only: a planted file is refused, never run
            return torch.load(path, weights_only=True)
        except Exception as error:  # noqa: BLE001 (truncated, corrupt, or not plain data)
            reason = " ".join(str(error).split())[:160]
            warnings.warn(f"{path}: unreadable cache ({reason}); generating it again", stacklevel=2)
    data = make()
    os.makedirs(folder, exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    torch.save(data, temporary)
    os.replace(temporary, path)
    return data
