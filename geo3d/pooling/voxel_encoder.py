"""A pillar / voxel feature encoder whose pooling is any of :data:`geo3d.pooling.POOLINGS`.

Per point: its features, the offset to its voxel's mean and the offset to its voxel's
centre (PointPillars, Lang et al. 2019, section 2.1; DSVT's dynamic VFE), then linear +
BatchNorm + ReLU layers, then one pooling per voxel. ``pooling="max"`` is the PointNet
max pooling of PointPillars and DSVT; ``"attention"`` with ``query="residual"`` is
PVTransformer's point-to-voxel attention; ``"soft"`` is SoftPool. Voxels are packed
segments, so nothing is padded to the fullest voxel.
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.ops import dynamic_voxelize, scatter
from geo3d.pooling.set_pool import SetPool


class VoxelFeatureEncoder(nn.Module):
    """``points (P, C), batch (P,) -> (features (V, out), coords (V, 4) as (b, z, y, x))``.

    Args:
        in_channels: point channels ``C`` (xyz first).
        channels: widths of the per-point layers (the last is the output width).
        voxel_size, point_range: the grid (pillars: a z size spanning the range).
        pooling: ``max`` (PointPillars), ``mean``, ``max+mean``, ``soft`` or ``attention``.
        heads, query: for attention pooling (PVTransformer: ``query="residual"``).
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...], voxel_size, point_range,
                 pooling: str = "max", heads: int = 4, query: str = "residual"):  # fmt: skip
        super().__init__()
        self.voxel_size = [float(v) for v in voxel_size]
        self.point_range = [float(v) for v in point_range]
        layers, width = [], in_channels + 6
        for out in channels:
            layers += [nn.Linear(width, out, bias=False), nn.BatchNorm1d(out), nn.ReLU()]
            width = out
        self.layers = nn.Sequential(*layers)
        self.pool = SetPool(pooling, width, heads=heads, query=query)
        self.out_channels = width

    def forward(
        self, points: torch.Tensor, batch: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        coords = dynamic_voxelize(points, self.voxel_size, self.point_range)  # (P, 3) z, y, x
        inside = coords[:, 0] >= 0
        points, coords, batch = points[inside], coords[inside].long(), batch[inside]
        keys = torch.cat([batch[:, None], coords], dim=1)  # (P, 4)
        voxels, index = torch.unique(keys, dim=0, return_inverse=True)
        num_voxels = voxels.shape[0]
        xyz = points[:, :3]
        mean = scatter(xyz, index, num_voxels, "mean")[index]
        size = xyz.new_tensor(self.voxel_size)
        low = xyz.new_tensor(self.point_range[:3])
        centre = (coords.flip(1).to(xyz.dtype) + 0.5) * size + low  # (x, y, z) order
        features = torch.cat([points, xyz - mean, xyz - centre], dim=1)
        features = self.layers(features)
        return self.pool.segments(features, index, num_voxels), voxels
