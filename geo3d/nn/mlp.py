"""Point-wise layer blocks on channels-last tensors ``(..., C)``: Linear + BatchNorm (+ ReLU)
and the residual bottleneck of Point-PN. Linear layers on channels-last tensors stand in for
the official 1x1 convolutions (the same maps, the same parameter counts)."""

from __future__ import annotations

import torch
from torch import nn

from geo3d import ops


class LinearBNReLU(nn.Module):
    """``(..., C_in) -> (..., C_out)``: linear, BatchNorm over every position, ReLU."""

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True, relu: bool = True):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, bias=bias)
        self.norm = nn.BatchNorm1d(out_dim)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._norm_relu(self.linear(x))

    def _norm_relu(self, y: torch.Tensor) -> torch.Tensor:
        shape = y.shape
        y = self.norm(y.reshape(-1, self.linear.out_features)).reshape(shape)
        return torch.relu(y) if self.relu else y

    def forward_grouped(
        self, feats: torch.Tensor, centres: torch.Tensor, neighbours: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`forward` of every neighbour's feature beside its centre's, ``[feats[n],
        feats[c]]`` ``(B, G, K, 2C)``, without building that tensor: the linear map splits
        into its halves, ``W [f_n; f_c] = W_n f_n + W_c f_c``, applied to the ``B N`` points
        and the ``B G`` centres, then gathered; the matrix product sees ``B (N + G)`` rows
        instead of ``B G K`` (equal up to float rounding). ``feats (B, N, C)``, ``centres
        (B, G)``, ``neighbours (B, G, K)`` -> ``(B, G, K, C_out)``."""
        channels = feats.shape[-1]
        if 2 * channels != self.linear.in_features:
            raise ValueError(
                f"forward_grouped needs features of {self.linear.in_features // 2} channels "
                f"(got {channels})"
            )
        weight = self.linear.weight
        per_point = feats @ weight[:, :channels].t()  # (B, N, out)
        per_centre = ops.gather_points(feats, centres) @ weight[:, channels:].t()  # (B, G, out)
        if self.linear.bias is not None:
            per_centre = per_centre + self.linear.bias
        y = ops.gather_points(per_point, neighbours) + per_centre.unsqueeze(2)
        return self._norm_relu(y)


class ResidualBottleneck(nn.Module):
    """The official ``Linear2Layer``: ``relu(BN(W2 relu(BN(W1 x))) + x)``, width C -> C/2 -> C."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduce = LinearBNReLU(dim, dim // 2)
        self.expand = LinearBNReLU(dim // 2, dim, relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.expand(self.reduce(x)) + x)
