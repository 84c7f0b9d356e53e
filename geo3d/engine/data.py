"""From a config's ``data`` section to the data sets and the task that evaluates them.

The data sets themselves are assembled by :func:`geo3d.data.build_dataset`; this module
only maps a :class:`~geo3d.engine.config.DataConfig` onto its options.
"""

from __future__ import annotations

import warnings

from geo3d.data.registry import DataBundle, available_datasets, build_dataset, dataset_options
from geo3d.engine.config import DataConfig

# DataConfig fields that are not data-set options (they shape the loaders).
_LOADER_FIELDS = ("dataset", "batch_size", "eval_batch_size", "workers")


def build_datasets(config: DataConfig) -> DataBundle:
    """The splits of the data set a config names, built with the config's options that
    the data set takes (the config checks have already refused options it ignores)."""
    if config.dataset not in available_datasets():
        raise ValueError(
            f"unknown data set {config.dataset!r} (known: {', '.join(available_datasets())})"
        )
    takes = set(dataset_options(config.dataset))
    options = {
        name: getattr(config, name)
        for name in config.__dataclass_fields__
        if name not in _LOADER_FIELDS and name in takes
    }
    return build_dataset(config.dataset, **options)


_MOVED = {
    "ClassificationView": ("geo3d.data.point_views", "ClassificationView"),
    "AUGMENTATIONS": ("geo3d.data.point_views", "POINT_AUGMENTATIONS"),
    "split_off_validation": ("geo3d.data.splits", "split_off_validation"),
    "DataBundle": ("geo3d.data.registry", "DataBundle"),
}


def __getattr__(name: str):
    if name in _MOVED:
        module, new = _MOVED[name]
        warnings.warn(
            f"geo3d.engine.data.{name} moved to {module}.{new}; the old path goes in the next "
            "release",
            DeprecationWarning,
            stacklevel=2,
        )
        import importlib

        return getattr(importlib.import_module(module), new)
    if name in ("POINT_DATASETS", "MESH_DATASETS"):
        kind = "points" if name == "POINT_DATASETS" else "meshes"
        warnings.warn(
            f"geo3d.engine.data.{name} is geo3d.data.available_datasets({kind!r}) now",
            DeprecationWarning,
            stacklevel=2,
        )
        return available_datasets(kind)
    raise AttributeError(f"module 'geo3d.engine.data' has no attribute {name!r}")
