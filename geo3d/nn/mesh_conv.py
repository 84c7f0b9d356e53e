"""MeshCNN's edge convolution (Hanocka et al., SIGGRAPH 2019, section 3.2, eq. 2-3)."""

from __future__ import annotations

import math

import torch
from torch import nn


def mesh_conv_stencil(x: torch.Tensor, gemm: torch.Tensor) -> torch.Tensor:
    """The symmetric 5-tuple of every edge: ``x (E, C), gemm (E, 4) -> (E, C, 5)``.

    For edge ``e`` with neighbours ``(a, b, c, d)``: ``[e, a + c, b + d, |a - c|, |b - d|]``,
    invariant to the order of the two faces. A missing neighbour (``-1``) reads zeros, as
    the official padding does.
    """
    num_edges, channels = x.shape
    padded = torch.cat([x, x.new_zeros(1, channels)])  # row E reads as zeros
    neighbours = padded[torch.where(gemm >= 0, gemm, num_edges)]  # (E, 4, C)
    a, b, c, d = neighbours.unbind(1)
    return torch.stack([x, a + c, b + d, (a - c).abs(), (b - d).abs()], dim=2)


class MeshConv(nn.Module):
    """``x (E, C_in), gemm (E, 4) -> (E, C_out)``: the stencil of :func:`mesh_conv_stencil`
    followed by a learned ``1 x 5`` map (the official ``Conv2d(kernel_size=(1, 5))``; its
    weight has the same ``(C_out, C_in, 5)`` layout, without the singleton axis)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 5))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Conv2d's default initialisation (the networks re-initialise as the official code).
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * 5)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, gemm: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"MeshConv expects 'x' of shape (E, {self.in_channels}) (got {tuple(x.shape)})"
            )
        if gemm.shape != (x.shape[0], 4):
            raise ValueError(f"'gemm' must be ({x.shape[0]}, 4) (got {tuple(gemm.shape)})")
        stencil = mesh_conv_stencil(x, gemm).reshape(x.shape[0], -1)  # (E, C_in * 5)
        return nn.functional.linear(stencil, self.weight.reshape(self.out_channels, -1), self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, bias={self.bias is not None}"
