"""Where geo3d finds its shipped configs and the shared real-data samples.

Configs live in ``configs/`` of a source checkout and in ``geo3d/configs/`` of an installed
wheel (setup.py maps one onto the other); :func:`find_config` accepts a path or a bare name
(``pointpn_synthetic``), so ``geo3d train pointpn_synthetic`` works from any folder.
"""

from __future__ import annotations

import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(PACKAGE_DIR)  # the checkout, where geo3d runs from source


def config_dirs() -> list[str]:
    """The folders holding shipped configs, the installed one first."""
    candidates = [os.path.join(PACKAGE_DIR, "configs"), os.path.join(SOURCE_ROOT, "configs")]
    return [folder for folder in candidates if os.path.isdir(folder)]


def available_configs() -> list[str]:
    """Names of the shipped configs (file names without ``.yaml``), sorted."""
    names = {
        name[: -len(".yaml")]
        for folder in config_dirs()
        for name in os.listdir(folder)
        if name.endswith(".yaml")
    }
    return sorted(names)


def find_config(name_or_path: str | os.PathLike) -> str:
    """A config file's path from a path, or from the name of a shipped config (with or
    without ``.yaml``); a name that matches nothing is a FileNotFoundError listing the
    shipped names."""
    path = os.fspath(name_or_path)
    if os.path.isfile(path):
        return path
    stem = os.path.basename(path)
    if os.sep not in path and "/" not in path:
        stem = stem[: -len(".yaml")] if stem.endswith(".yaml") else stem
        for folder in config_dirs():
            candidate = os.path.join(folder, stem + ".yaml")
            if os.path.isfile(candidate):
                return candidate
    shipped = ", ".join(available_configs()) or "none found"
    raise FileNotFoundError(
        f"{path}: no such config file, and not the name of a shipped config ({shipped})"
    )


def shared_data_dir() -> str:
    """The real-data samples: ``$GEO3D_SHARED_DATA``, else ``../shared/data`` beside the
    checkout (may not exist; callers fall back to synthetic data or skip)."""
    return os.environ.get("GEO3D_SHARED_DATA", os.path.join(SOURCE_ROOT, "..", "shared", "data"))
