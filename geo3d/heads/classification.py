"""Classification heads."""

from __future__ import annotations

import torch
from torch import nn


class MLPHead(nn.Module):
    """``(B, in_dim) -> (B, num_classes)``: linear, BatchNorm, ReLU and dropout per hidden
    layer (Point-PN's and PointNet++'s head: 512, 256, dropout 0.5), then a linear layer."""

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        hidden: tuple[int, ...] = (512, 256),
        dropout: float = 0.5,
    ):
        super().__init__()
        layers, dim = [], in_dim
        for width in hidden:
            layers += [nn.Linear(dim, width), nn.BatchNorm1d(width), nn.ReLU(), nn.Dropout(dropout)]
            dim = width
        layers.append(nn.Linear(dim, num_classes))
        self.net = nn.Sequential(*layers)
        self.num_classes = num_classes

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)
