"""Experiment configs: YAML files validated into typed dataclasses.

Unknown keys are errors naming the key; ``--set a.b=value`` overrides parse ``value`` as
YAML (so ``--set train.epochs=5`` gives an int and ``--set model.options.k=[1,2]`` a list).
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass
class DataConfig:
    dataset: str  # synthetic_shapes, modelnet40(_h5, _off), scanobjectnn; synthetic_meshes,
    # meshcnn_classification, meshcnn_segmentation
    task: str = "classification"  # or segmentation (mesh data sets)
    root: str | None = None  # where the data set lies (not for synthetic ones)
    num_points: int = 1024
    variant: str | None = None  # ScanObjectNN: OBJ_BG, OBJ_ONLY, PB_T50_RS
    per_class: int | None = None  # synthetic_shapes: samples per class and split
    # Data sets without a validation split hold out this much of train; 0 holds out
    # nothing and lets the test set take the validation role (the official protocols).
    val_fraction: float = 0.1
    batch_size: int = 32
    eval_batch_size: int = 32
    workers: int = 0
    augment: list[str] = field(
        default_factory=list
    )  # points: scale, translate, rotate_z, jitter, dropout, shuffle; meshes: scale_verts,
    # flip_edges, slide_verts; scenes: gt_sampling, flip, rotate, scale, translate
    augment_options: dict[str, float] = field(default_factory=dict)  # meshes: their amounts
    features: str = "official"  # MeshCNN edge features: official (+0.1 divisions) or exact
    frames: int | None = None  # synthetic_lidar: frames per split (None: its defaults)
    seed: int = 0


@dataclass
class ModelConfig:
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    name: str = "sgd"  # sgd, adam, adamw
    lr: float = 0.1  # onecycle: the peak
    momentum: float = 0.9
    weight_decay: float = 2e-4
    grad_clip: float | None = None  # clip the gradient's global norm (OpenPCDet: 10)


@dataclass
class SchedulerConfig:
    name: str = "cosine"  # cosine (to min_lr over the epochs), constant, linear_decay,
    # onecycle (per step: OpenPCDet's adam_onecycle, warm-up over 40 %, then cosine decay)
    min_lr: float = 1e-5
    constant_epochs: int = 100  # linear_decay: epochs at the full rate before the decay


@dataclass
class TrainConfig:
    epochs: int = 300
    seed: int = 0
    eval_every: int = 1
    gamma_candidates: list[float] | None = None  # training-free models: the gamma grid
    select_gamma_on: str = "val"  # "val" (honest) or "test" (the official Point-NN protocol)
    max_train_batches: int | None = None  # cap per epoch (smoke runs)
    tensorboard: bool = True  # event files in <run>/tensorboard where tensorboard is installed


@dataclass
class ExperimentConfig:
    name: str
    data: DataConfig
    model: ModelConfig
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    output_dir: str = "runs"


def _check_type(value, annotation, where: str):
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(value, option, where)
            except ValueError:
                continue
        raise ValueError(f"'{where}' has the wrong type ({type(value).__name__}: {value!r})")
    if dataclasses.is_dataclass(annotation):
        return _from_dict(annotation, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"'{where}' must be a list (got {value!r})")
        (item,) = typing.get_args(annotation)
        return [_check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"'{where}' must be a mapping (got {value!r})")
        return dict(value)
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise ValueError(f"'{where}' must be {annotation.__name__} (got {value!r})")
    return value


def _from_dict(cls, data, where: str = ""):
    if not isinstance(data, dict):
        raise ValueError(f"'{where or 'config'}' must be a mapping (got {data!r})")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            path = f"{where}.{key}" if where else key
            raise ValueError(f"unknown config key '{path}' (known: {', '.join(sorted(known))})")
    values = {}
    for f in dataclasses.fields(cls):
        path = f"{where}.{f.name}" if where else f.name
        if f.name in data:
            values[f.name] = _check_type(data[f.name], hints[f.name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"missing config key '{path}'")
    return cls(**values)


def apply_override(data: dict, assignment: str) -> None:
    """Apply ``a.b.c=value`` to the nested dict ``data`` (value parsed as YAML)."""
    if "=" not in assignment:
        raise ValueError(f"--set expects key=value (got {assignment!r})")
    key, raw = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {key}: '{part}' is not a mapping")
    node[parts[-1]] = yaml.safe_load(raw)


def load_config(
    path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()
) -> ExperimentConfig:
    """Read, override and validate an experiment file: types (here) and ranges, choices and
    options that would be ignored (:func:`geo3d.engine.config_checks.check_config`)."""
    from geo3d.paths import find_config

    path = find_config(path)
    with open(path) as handle:
        try:
            data = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML ({error})") from None
    for assignment in overrides:
        apply_override(data, assignment)
    config = _from_dict(ExperimentConfig, data)
    from geo3d.engine.config_checks import check_config, given_keys

    check_config(config, given_keys(data))
    return config


def config_to_dict(config: ExperimentConfig) -> dict:
    return dataclasses.asdict(config)
