"""Data sets by name: ``build_dataset(name, **options)`` gives the train, validation and
test splits of a point, mesh or scene data set, ready for a ``DataLoader``.

Each name is registered with :func:`register_dataset` by the module that knows how to
assemble it (:mod:`geo3d.data.catalog` holds geo3d's own); the training engine and the
tools only ever call :func:`build_dataset`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch

KINDS = ("points", "meshes", "scenes")


@dataclass
class DataBundle:
    """The splits of one data set.

    Attributes:
        train, val, test: the data sets (``val is test`` where the protocol has no held-out
            validation split and the test set takes its role).
        classes: class names (or part names, for segmentation).
        kind: ``"points"``, ``"meshes"`` or ``"scenes"``.
        task: ``"classification"``, ``"segmentation"`` or ``"detection"``.
        collate_fn: what batches the samples (``None``: the default collate).
    """

    train: torch.utils.data.Dataset
    val: torch.utils.data.Dataset
    test: torch.utils.data.Dataset
    classes: list
    kind: str
    task: str
    collate_fn: Callable | None = None


@dataclass(frozen=True)
class _Entry:
    build: Callable[..., DataBundle]
    kind: str


_REGISTRY: dict[str, _Entry] = {}


def register_dataset(name: str, kind: str):
    """Register ``build(**options) -> DataBundle`` under ``name``; ``kind`` is one of
    :data:`KINDS`."""
    if kind not in KINDS:
        raise ValueError(f"'kind' must be one of {KINDS} (got {kind!r})")

    def decorator(build: Callable[..., DataBundle]) -> Callable[..., DataBundle]:
        if name in _REGISTRY:
            raise ValueError(f"data set {name!r} is registered twice")
        _REGISTRY[name] = _Entry(build, kind)
        return build

    return decorator


def _load_catalog() -> None:
    import geo3d.data.catalog  # noqa: F401  (registers geo3d's data sets)


def available_datasets(kind: str | None = None) -> tuple[str, ...]:
    """The registered names (of one ``kind``), in registration order."""
    _load_catalog()
    return tuple(n for n, e in _REGISTRY.items() if kind is None or e.kind == kind)


def dataset_kind(name: str) -> str:
    """``"points"``, ``"meshes"`` or ``"scenes"`` for a registered name."""
    _load_catalog()
    if name not in _REGISTRY:
        raise ValueError(f"unknown data set {name!r} (known: {', '.join(_REGISTRY)})")
    return _REGISTRY[name].kind


def dataset_options(name: str) -> tuple[str, ...]:
    """The options ``build_dataset(name, ...)`` takes."""
    kind = dataset_kind(name)
    del kind
    return tuple(inspect.signature(_REGISTRY[name].build).parameters)


def build_dataset(name: str, **options) -> DataBundle:
    """The splits of the data set ``name`` (:func:`available_datasets`), built with
    ``options`` (:func:`dataset_options`; an option the data set does not take is an
    error naming it)."""
    dataset_kind(name)
    unknown = sorted(set(options) - set(dataset_options(name)))
    if unknown:
        raise ValueError(
            f"data set {name!r} takes no option {', '.join(map(repr, unknown))} "
            f"(it takes: {', '.join(dataset_options(name))})"
        )
    return _REGISTRY[name].build(**options)
