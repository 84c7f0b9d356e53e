"""Point-wise layer blocks on channels-last tensors ``(..., C)``: Linear + BatchNorm (+ ReLU)
and the residual bottleneck of Point-PN. Linear layers on channels-last tensors stand in for
the official 1x1 convolutions (the same maps, the same parameter counts)."""

from __future__ import annotations

import torch
from torch import nn


class LinearBNReLU(nn.Module):
    """``(..., C_in) -> (..., C_out)``: linear, BatchNorm over every position, ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, relu: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)
        self.norm = nn.BatchNorm1d(out_dim)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        y = self.norm(self.linear(x).reshape(-1, self.linear.out_features))
        y = y.reshape(*shape[:-1], -1)
        return torch.relu(y) if self.relu else y


class ResidualBottleneck(nn.Module):
    """The official ``Linear2Layer``: ``relu(BN(W2 relu(BN(W1 x))) + x)``, width C -> C/2 -> C."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduce = LinearBNReLU(dim, dim // 2)
        self.expand = LinearBNReLU(dim // 2, dim, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.expand(self.reduce(x)) + x)
