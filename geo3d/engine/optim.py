"""Optimisers and learning-rate schedules by the names a config uses."""

from __future__ import annotations

import torch

from geo3d.engine.config import ExperimentConfig


def build_optimizer(config: ExperimentConfig, parameters):
    o = config.optimizer
    if o.name == "sgd":
        return torch.optim.SGD(
            parameters, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay
        )
    if o.name == "adam":
        return torch.optim.Adam(parameters, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(parameters, lr=o.lr, weight_decay=o.weight_decay)
    raise ValueError(f"unknown optimizer {o.name!r} (sgd, adam, adamw)")


# OpenPCDet's adam_onecycle: MOMS [0.95, 0.85], DIV_FACTOR 10, PCT_START 0.4, and a final
# rate of the starting rate / 1e4.
ONECYCLE = {"pct_start": 0.4, "div_factor": 10.0, "final_div_factor": 1e4}
ONECYCLE_MOMENTUM = (0.85, 0.95)


def steps_per_epoch_schedule(config: ExperimentConfig) -> bool:
    """Whether the scheduler steps after every batch (``onecycle``) rather than per epoch."""
    return config.scheduler.name == "onecycle"


def build_scheduler(config: ExperimentConfig, optimizer, steps_per_epoch: int = 1):
    """The config's schedule; ``onecycle`` spans ``epochs * steps_per_epoch`` optimiser
    steps and is stepped after each of them, the others after each epoch."""
    s = config.scheduler
    if s.name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=config.optimizer.lr,
            total_steps=max(config.train.epochs * steps_per_epoch, 1),
            anneal_strategy="cos",
            cycle_momentum=True,
            base_momentum=ONECYCLE_MOMENTUM[0],
            max_momentum=ONECYCLE_MOMENTUM[1],
            **ONECYCLE,
        )
    if s.name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=config.train.epochs, eta_min=s.min_lr
        )
    if s.name == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0)
    if s.name == "linear_decay":
        # MeshCNN's "lambda" policy: the full rate for `constant_epochs` (niter), then a
        # linear decay towards 0 over the remaining epochs (niter_decay).
        keep, decay = s.constant_epochs, max(config.train.epochs - s.constant_epochs, 0)
        return torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 1.0 - max(0, epoch + 2 - keep) / float(decay + 1)
        )
    raise ValueError(f"unknown scheduler {s.name!r} (cosine, constant, linear_decay, onecycle)")
