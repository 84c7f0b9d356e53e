"""Range, choice and relevance checks of an experiment config, run when it is loaded.

Types are checked by :mod:`geo3d.engine.config`; this module checks values: every option
gets its valid range or choices, and an option that the chosen data set, optimiser or
scheduler would ignore is an error rather than a silent no-op. Every error names the key,
the value and what is allowed, before anything is built or written.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from geo3d.engine.config import ExperimentConfig

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("cosine", "constant", "linear_decay", "onecycle")
TASKS = ("classification", "segmentation", "detection")
GAMMA_SPLITS = ("val", "test")
SCANOBJECTNN_VARIANTS = ("OBJ_BG", "OBJ_ONLY", "PB_T50_RS")
FEATURE_VARIANTS = ("official", "exact")
MESH_POOL_VARIANTS = ("official", "exact")  # geo3d.ops.edge_collapse.VARIANTS
MESH_MODELS = ("meshcnn_classifier", "meshcnn_segmenter")
# Mesh augmentations and the range of their amount (scale: the std of N(1, std); flips
# and slides: the fraction of edges or vertices touched).
MESH_AUGMENT_RANGES = {
    "scale_verts": (0.0, 1.0),
    "flip_edges": (0.0, 1.0),
    "slide_verts": (0.0, 1.0),
}


def _fail(path: str, value, allowed: str) -> None:
    raise ValueError(f"config key '{path}' = {value!r}: {allowed}")


def _int_at_least(path: str, value, low: int) -> None:
    if value is not None and value < low:
        _fail(path, value, f"must be an integer >= {low}")


def _finite(
    path: str, value, low: float, high: float | None = None, *, open_low=False, open_high=False
) -> None:
    ok = math.isfinite(value) and (value > low if open_low else value >= low)
    if high is not None:
        ok = ok and (value < high if open_high else value <= high)
    if not ok:
        lo = f"{'(' if open_low else '['}{low:g}"
        hi = f"{high:g}{')' if open_high else ']'}" if high is not None else "inf)"
        _fail(path, value, f"must be a finite number in {lo}, {hi}")


def _choice(path: str, value, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        _fail(path, value, f"must be one of {', '.join(choices)}")


def _not_given(given: set[str], path: str, value, why: str) -> None:
    if path in given:
        _fail(path, value, f"is ignored {why}; remove it")


def check_config(config: ExperimentConfig, given: set[str]) -> None:
    """Raise ``ValueError`` for the first value out of range, unknown choice, or option set
    (``given``: the dotted keys the file or ``--set`` wrote) that would be ignored."""
    from geo3d.data import POINT_AUGMENTATIONS, SCENE_AUGMENTATIONS, available_datasets
    from geo3d.models import available_models

    POINT_DATASETS, MESH_DATASETS = available_datasets("points"), available_datasets("meshes")
    SCENE_DATASETS = available_datasets("scenes")

    if not config.name or "/" in config.name or config.name in (".", ".."):
        _fail("name", config.name, "must be a non-empty folder name without '/'")
    d = config.data
    _choice("data.dataset", d.dataset, POINT_DATASETS + MESH_DATASETS + SCENE_DATASETS)
    meshes, scenes = d.dataset in MESH_DATASETS, d.dataset in SCENE_DATASETS
    allowed = TASKS[:2] if meshes else ("detection",) if scenes else ("classification",)
    _choice("data.task", d.task, allowed)
    if d.frames is not None:
        if d.dataset != "synthetic_lidar":
            _fail("data.frames", d.frames, f"only synthetic_lidar takes it (not {d.dataset})")
        _int_at_least("data.frames", d.frames, 1)
    if d.dataset == "meshcnn_segmentation" and d.task != "segmentation":
        _fail("data.task", d.task, "meshcnn_segmentation serves segmentation only")
    _int_at_least("data.num_points", d.num_points, 1)
    _int_at_least("data.batch_size", d.batch_size, 1)
    _int_at_least("data.eval_batch_size", d.eval_batch_size, 1)
    _int_at_least("data.workers", d.workers, 0)
    _int_at_least("data.per_class", d.per_class, 1)
    _finite("data.val_fraction", d.val_fraction, 0.0, 1.0, open_high=True)
    if d.val_fraction == 0 and (meshes or d.dataset == "synthetic_shapes"):
        _fail(
            "data.val_fraction",
            0.0,
            f"is for data sets without a validation split, not {d.dataset}",
        )
    if d.variant is not None:
        if d.dataset != "scanobjectnn":
            _fail("data.variant", d.variant, f"only scanobjectnn has variants (not {d.dataset})")
        _choice("data.variant", d.variant, SCANOBJECTNN_VARIANTS)
    if d.per_class is not None and d.dataset not in ("synthetic_shapes", "synthetic_meshes"):
        _fail("data.per_class", d.per_class, "only the synthetic data sets take it")
    if d.root is not None and d.dataset.startswith("synthetic_"):
        _fail("data.root", d.root, f"{d.dataset} is generated, not read from disk; remove it")
    if meshes:
        for i, name in enumerate(d.augment):
            _choice(f"data.augment[{i}]", name, MESH_AUGMENT_RANGES)
        if d.task == "segmentation" and "flip_edges" in d.augment:
            _fail(
                "data.augment",
                d.augment,
                "edge flips renumber labelled edges: not for segmentation",
            )
        for key, amount in d.augment_options.items():
            path = f"data.augment_options.{key}"
            _choice(path, key, MESH_AUGMENT_RANGES)
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                _fail(path, amount, "must be a number")
            _finite(path, float(amount), *MESH_AUGMENT_RANGES[key])
            if key not in d.augment:
                _fail(path, amount, f"sets the amount of '{key}', which data.augment does not use")
        _choice("data.features", d.features, FEATURE_VARIANTS)
        _not_given(given, "data.num_points", d.num_points, "by mesh data sets")
    elif scenes:
        for i, name in enumerate(d.augment):
            _choice(f"data.augment[{i}]", name, SCENE_AUGMENTATIONS)
        for key in ("augment_options", "features", "num_points", "val_fraction"):
            _not_given(given, f"data.{key}", getattr(d, key), f"by scene data sets ({d.dataset})")
    else:
        for i, name in enumerate(d.augment):
            _choice(f"data.augment[{i}]", name, POINT_AUGMENTATIONS)
        _not_given(given, "data.augment_options", d.augment_options, "by point data sets")
        _not_given(given, "data.features", d.features, "by point data sets (MeshCNN only)")
        if d.dataset == "synthetic_shapes":
            _not_given(
                given,
                "data.val_fraction",
                d.val_fraction,
                "by synthetic_shapes (it has its own validation split)",
            )

    _choice("model.name", config.model.name, available_models())
    if "pool_variant" in config.model.options:
        variant = config.model.options["pool_variant"]
        if config.model.name not in MESH_MODELS:
            _fail(
                "model.options.pool_variant",
                variant,
                f"is a MeshCNN option ({', '.join(MESH_MODELS)}), not {config.model.name}'s",
            )
        _choice("model.options.pool_variant", variant, MESH_POOL_VARIANTS)

    o = config.optimizer
    _choice("optimizer.name", o.name, OPTIMIZERS)
    _finite("optimizer.lr", o.lr, 0.0, open_low=True)
    _finite("optimizer.momentum", o.momentum, 0.0, 1.0, open_high=True)
    _finite("optimizer.weight_decay", o.weight_decay, 0.0)
    if o.name != "sgd":
        _not_given(given, "optimizer.momentum", o.momentum, f"by {o.name} (SGD only)")
    if o.grad_clip is not None:
        _finite("optimizer.grad_clip", o.grad_clip, 0.0, open_low=True)

    s = config.scheduler
    _choice("scheduler.name", s.name, SCHEDULERS)
    _finite("scheduler.min_lr", s.min_lr, 0.0)
    if s.name == "cosine" and s.min_lr > o.lr:
        _fail("scheduler.min_lr", s.min_lr, f"must not exceed optimizer.lr ({o.lr:g})")
    _int_at_least("scheduler.constant_epochs", s.constant_epochs, 0)
    if s.name != "cosine":
        _not_given(given, "scheduler.min_lr", s.min_lr, f"by the {s.name} scheduler")
    if s.name != "linear_decay":
        _not_given(
            given, "scheduler.constant_epochs", s.constant_epochs, f"by the {s.name} scheduler"
        )

    t = config.train
    _int_at_least("train.epochs", t.epochs, 1)
    _int_at_least("train.eval_every", t.eval_every, 1)
    _int_at_least("train.max_train_batches", t.max_train_batches, 1)
    _choice("train.select_gamma_on", t.select_gamma_on, GAMMA_SPLITS)
    if t.gamma_candidates is not None:
        if not t.gamma_candidates:
            _fail("train.gamma_candidates", t.gamma_candidates, "must list at least one gamma")
        for i, gamma in enumerate(t.gamma_candidates):
            _finite(f"train.gamma_candidates[{i}]", gamma, 0.0)


def given_keys(data: dict, prefix: str = "") -> set[str]:
    """The dotted paths of a nested dict's leaves and mappings: ``{"a": {"b": 1}}`` gives
    ``{"a", "a.b"}``."""
    keys = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        keys.add(path)
        if isinstance(value, dict) and key not in ("options", "augment_options"):
            keys |= given_keys(value, path + ".")
    return keys
