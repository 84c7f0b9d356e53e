"""SECOND's sparse 3D backbone (Yan et al., Sensors 2018) as OpenPCDet builds it for SECOND,
PV-RCNN and CenterPoint-Voxel (``pcdet/models/backbones_3d/spconv_backbone.py``):
``VoxelBackBone8x`` and its residual variant ``VoxelResBackBone8x``.

Four stages on a sparse voxel grid: a submanifold input layer to 16 channels, then stages
at 1x, 2x, 4x and 8x downsampling (strided sparse convolutions, stride 2, the last with
padding (0, 1, 1)), each followed by submanifold layers (or residual blocks), and a last
(3, 1, 1) convolution of stride (2, 1, 1) along z. Every convolution is followed by
BatchNorm (eps 1e-3, momentum 0.01) and ReLU. The grid is the voxel grid with one more z
layer, ``(nz + 1, ny, nx)`` (OpenPCDet's ``sparse_shape = grid_size[::-1] + [1, 0, 0]``), so
KITTI's 40 layers become 2 at the end; :func:`height_compression` stacks them into BEV
channels (``HeightCompression``).
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from geo3d.nn.sparse_conv import (
    SparseConv3d,
    SparseConvTensor,
    SparseModule,
    SparseSequential,
    SubMConv3d,
)
from geo3d.nn.sparse_conv_maps import map_forward

batch_norm = partial(nn.BatchNorm1d, eps=1e-3, momentum=0.01)


def post_act_block(
    in_channels,
    out_channels,
    kernel_size=3,
    stride=1,
    padding=1,
    indice_key=None,
    subm=True,
    backend="geo3d",
) -> SparseSequential:
    """Convolution (no bias) -> BatchNorm -> ReLU (OpenPCDet's ``post_act_block``)."""
    if subm:
        conv = SubMConv3d(
            in_channels,
            out_channels,
            kernel_size,
            bias=False,
            indice_key=indice_key,
            backend=backend,
        )
    else:
        conv = SparseConv3d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            bias=False,
            indice_key=indice_key,
            backend=backend,
        )
    return SparseSequential(conv, batch_norm(out_channels), nn.ReLU())


class SparseBasicBlock(SparseModule):
    """Two submanifold 3x3x3 convolutions with BatchNorm, the input added before the last
    ReLU (OpenPCDet's ``SparseBasicBlock``; its convolutions carry a bias, as there)."""

    def __init__(self, channels: int, indice_key: str | None = None, backend: str = "geo3d"):
        super().__init__()
        self.conv1 = SubMConv3d(channels, channels, 3, indice_key=indice_key, backend=backend)
        self.bn1 = batch_norm(channels)
        self.conv2 = SubMConv3d(channels, channels, 3, indice_key=indice_key, backend=backend)
        self.bn2 = batch_norm(channels)

    def map_forward(self, features: torch.Tensor, maps: dict) -> torch.Tensor:
        """:meth:`forward` on features with neighbour maps
        (:func:`geo3d.nn.sparse_conv_maps.map_forward`)."""
        out = torch.relu(self.bn1(self.conv1.map_forward(features, maps[self.conv1.indice_key])))
        out = self.bn2(self.conv2.map_forward(out, maps[self.conv2.indice_key]))
        return torch.relu(out + features)

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        out = self.conv1(x)
        out = out.replace_feature(torch.relu(self.bn1(out.features)))
        out = self.conv2(out)
        return out.replace_feature(torch.relu(self.bn2(out.features) + x.features))


class SparseBackbone8x(nn.Module):
    """``SparseConvTensor`` on ``sparse_shape (nz + 1, ny, nx)`` -> ``SparseConvTensor`` at
    1/8 in y and x with ``out_channels`` (module docstring).

    ``residual=False`` is ``VoxelBackBone8x`` (channels 16, 32, 64, 64; two submanifold
    layers per downsampling stage); ``residual=True`` is ``VoxelResBackBone8x`` (16, 32,
    64, 128; two residual blocks per stage). ``channels`` and ``out_channels`` scale it."""

    def __init__(
        self,
        in_channels: int,
        residual: bool = False,
        channels: tuple[int, int, int, int] | None = None,
        out_channels: int = 128,
        last_pad: int = 0,
        backend: str = "geo3d",
    ):
        super().__init__()
        c1, c2, c3, c4 = channels or ((16, 32, 64, 128) if residual else (16, 32, 64, 64))
        block = partial(post_act_block, backend=backend)
        self.conv_input = post_act_block(in_channels, c1, indice_key="subm1", backend=backend)

        def stage(c_in, c_out, key, padding=1):
            down = block(c_in, c_out, 3, 2, padding, indice_key=f"spconv{key}", subm=False)
            if residual:
                rest = [SparseBasicBlock(c_out, f"res{key}", backend) for _ in range(2)]
            else:
                rest = [block(c_out, c_out, indice_key=f"subm{key}") for _ in range(2)]
            return SparseSequential(down, *rest)

        if residual:
            self.conv1 = SparseSequential(
                *(SparseBasicBlock(c1, "res1", backend) for _ in range(2))
            )
        else:
            self.conv1 = SparseSequential(block(c1, c1, indice_key="subm1"))
        self.conv2 = stage(c1, c2, 2)
        self.conv3 = stage(c2, c3, 3)
        self.conv4 = stage(c3, c4, 4, padding=(0, 1, 1))
        self.conv_out = post_act_block(
            c4, out_channels, (3, 1, 1), (2, 1, 1), last_pad, "spconv_down2", False, backend
        )
        self.out_channels = out_channels

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        x = self.conv_input(x)
        for stage in (self.conv1, self.conv2, self.conv3, self.conv4, self.conv_out):
            x = stage(x)
        return x

    def map_forward(self, features: torch.Tensor, maps: dict) -> torch.Tensor:
        """:meth:`forward` on the voxel features with neighbour maps by ``indice_key``
        (:func:`geo3d.nn.sparse_conv_maps.neighbor_maps`): gathers and matrix multiplies only."""
        for stage in (
            self.conv_input,
            self.conv1,
            self.conv2,
            self.conv3,
            self.conv4,
            self.conv_out,
        ):
            features = map_forward(stage, features, maps)
        return features


def height_compression(x: SparseConvTensor) -> torch.Tensor:
    """``SparseConvTensor`` on ``(D, H, W)`` with C channels -> BEV ``(B, C * D, H, W)``,
    channel-major (channel c of layer d at ``c * D + d``), as OpenPCDet's
    ``HeightCompression`` (``dense().view(B, C * D, H, W)``)."""
    grid = x.dense()
    b, c, d, h, w = grid.shape
    return grid.reshape(b, c * d, h, w)


def sparse_output_shape(sparse_shape) -> tuple[int, int, int]:
    """The grid ``(D, H, W)`` the backbone ends on for an input grid ``sparse_shape``."""
    from geo3d.ops.sparse_conv import conv_output_shape

    shape = list(sparse_shape)
    for padding in (1, 1, (0, 1, 1)):
        shape = conv_output_shape(shape, 3, 2, padding)
    return tuple(conv_output_shape(shape, (3, 1, 1), (2, 1, 1), 0))
