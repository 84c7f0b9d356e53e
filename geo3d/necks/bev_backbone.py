"""SECOND's BEV backbone with the FPN-style upsampling that PointPillars uses (OpenPCDet's
``BaseBEVBackbone``): down blocks of 3x3 convolutions, each block's output upsampled to the
first block's resolution by a transposed convolution, and the results concatenated.

Defaults are OpenPCDet's PointPillars KITTI settings: 3, 5, 5 layers; strides 2, 2, 2; 64,
128, 256 filters; upsampling strides 1, 2, 4 to 128 filters each (384 channels out, at half
the canvas resolution). BatchNorm eps 1e-3 and momentum 0.01, as the official configs.
"""

from __future__ import annotations

import torch
from torch import nn

BN = {"eps": 1e-3, "momentum": 0.01}


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels, **BN),
        nn.ReLU(),
    ]


class BEVBackbone(nn.Module):
    """``canvas (B, C_in, H, W) -> (B, sum(upsample_filters), H / s0, W / s0)``."""

    def __init__(
        self,
        in_channels: int = 64,
        layer_nums: tuple[int, ...] = (3, 5, 5),
        layer_strides: tuple[int, ...] = (2, 2, 2),
        num_filters: tuple[int, ...] = (64, 128, 256),
        upsample_strides: tuple[int, ...] = (1, 2, 4),
        upsample_filters: tuple[int, ...] = (128, 128, 128),
    ):
        super().__init__()
        sizes = {
            len(layer_nums),
            len(layer_strides),
            len(num_filters),
            len(upsample_strides),
            len(upsample_filters),
        }
        if len(sizes) != 1:
            raise ValueError("the BEV backbone needs one entry per block in every list")
        self.blocks, self.deblocks = nn.ModuleList(), nn.ModuleList()
        width = in_channels
        for layers, stride, filters, up, up_filters in zip(
            layer_nums, layer_strides, num_filters, upsample_strides, upsample_filters
        ):
            block = _conv(width, filters, stride)
            for _ in range(layers):
                block += _conv(filters, filters)
            self.blocks.append(nn.Sequential(*block))
            self.deblocks.append(
                nn.Sequential(
                    nn.ConvTranspose2d(filters, up_filters, up, stride=up, bias=False),
                    nn.BatchNorm2d(up_filters, **BN),
                    nn.ReLU(),
                )
            )
            width = filters
        self.out_channels = sum(upsample_filters)
        self.stride = layer_strides[0] // upsample_strides[0]

    def forward(self, canvas: torch.Tensor) -> torch.Tensor:
        x, ups = canvas, []
        for block, deblock in zip(self.blocks, self.deblocks):
            x = block(x)
            ups.append(deblock(x))
        return torch.cat(ups, dim=1)
