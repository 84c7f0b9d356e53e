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


def build_scheduler(config: ExperimentConfig, optimizer):
    s = config.scheduler
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
    raise ValueError(f"unknown scheduler {s.name!r} (cosine, constant, linear_decay)")
