"""Pillar (or flattened voxel) features to a bird's-eye-view canvas: PointPillars' scatter
(Lang et al., CVPR 2019, section 2.1; OpenPCDet's ``PointPillarScatter``).

A plain index write, no reduction: each pillar owns one cell, so the scatter is the
``ScatterND`` without reduction that ONNX and TensorRT support (no plugin), with the
flat cell indices computed in ``preprocess``.
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.structures.voxels import VoxelGrid


def bev_indices(coords: torch.Tensor, grid: VoxelGrid, batch_size: int) -> torch.Tensor:
    """``coords (P, 4)`` integer ``(batch, z, y, x)`` of pillars -> flat indices ``(P,)`` into
    a ``(batch_size * ny * nx)`` canvas. Every pillar must be inside the grid and own its
    cell (the index work: done once, before the tensor core)."""
    if coords.dim() != 2 or coords.shape[1] != 4 or coords.dtype.is_floating_point:
        raise ValueError(f"Expected integer 'coords' of shape (P, 4) (got {tuple(coords.shape)})")
    nx, ny, _ = grid.size
    coords = coords.long()
    b, y, x = coords[:, 0], coords[:, 2], coords[:, 3]
    outside = (b < 0) | (b >= batch_size) | (y < 0) | (y >= ny) | (x < 0) | (x >= nx)
    if bool(outside.any()):
        row = int(outside.nonzero()[0])
        raise ValueError(
            f"pillar {row} at {coords[row].tolist()} is outside the canvas "
            f"(batch {batch_size}, ny {ny}, nx {nx})"
        )
    flat = (b * ny + y) * nx + x
    if flat.numel() and torch.unique(flat).numel() != flat.numel():
        raise ValueError("two pillars share a BEV cell (flatten voxels along z before scattering)")
    return flat


class BEVScatter(nn.Module):
    """``(features (P, C), flat indices (P,)) -> canvas (B, C, ny, nx)``, zeros where no
    pillar is (:func:`bev_indices` gives the indices)."""

    def __init__(self, grid: VoxelGrid, channels: int):
        super().__init__()
        self.grid, self.channels = grid, channels
        self.ny, self.nx = grid.bev_shape()

    def forward(
        self, features: torch.Tensor, indices: torch.Tensor, batch_size: int
    ) -> torch.Tensor:
        if features.dim() != 2 or features.shape[1] != self.channels:
            raise ValueError(
                f"Expected 'features' of shape (P, {self.channels}) (got {tuple(features.shape)})"
            )
        canvas = features.new_zeros((batch_size * self.ny * self.nx, self.channels))
        canvas = canvas.index_put((indices,), features)  # a plain write: cells are unique
        return canvas.view(batch_size, self.ny, self.nx, self.channels).permute(0, 3, 1, 2)

    def with_spare_cell(self, features: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        """One scene's canvas ``(1, C, ny, nx)`` from ``features (P, C)`` and ``indices (P,)``
        in ``[0, ny * nx]``: index ``ny * nx`` is a spare cell, dropped after the write, where
        the padding rows of a fixed-size export land (an exported core's scatter)."""
        cells = self.ny * self.nx
        canvas = features.new_zeros((cells + 1, self.channels)).index_put((indices,), features)
        return canvas[:cells].view(1, self.ny, self.nx, self.channels).permute(0, 3, 1, 2)

    def extra_repr(self) -> str:
        return f"{self.channels}, canvas {self.ny} x {self.nx}"
