"""A pillar / voxel feature encoder whose pooling is any of :data:`geo3d.pooling.POOLINGS`.

Per point: its features, the offset to its voxel's mean and the offset to its voxel's
centre (PointPillars, Lang et al. 2019, section 2.1; DSVT's dynamic VFE), then point-wise
layers, then one pooling per voxel. ``pooling="max"`` is the PointNet max pooling of
PointPillars and DSVT; ``"attention"`` with ``query="residual"`` is PVTransformer's
point-to-voxel attention; ``"soft"`` is SoftPool. Voxels are packed segments, so nothing is
padded to the fullest voxel.
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.ops import scatter, unique_rows
from geo3d.pooling.set_pool import SetPool
from geo3d.pooling.slot_rows import SlotRows, rows_max, rows_mean
from geo3d.structures.voxels import VoxelGrid, hard_voxel_mask

VFE_VARIANTS = ("official", "plain")

# OpenPCDet's PFNLayerV2 (DSVT's dynamic VFE) normalises with these, not torch's defaults.
BATCH_NORM_EPS, BATCH_NORM_MOMENTUM = 1e-3, 0.01


class VoxelFeatureEncoder(nn.Module):
    """``points (P, C), batch (P,) -> (features (V, out), coords (V, 4) as (b, z, y, x))``.

    ``variant="official"`` (default) is DSVT's ``DynamicPillarVFE`` / ``DynamicVoxelVFE``
    (OpenPCDet ``dynamic_pillar_vfe.py``, ``PFNLayerV2``): every layer but the last is
    ``Linear(no bias) -> BatchNorm(eps 1e-3, momentum 0.01) -> ReLU`` to *half* its width,
    concatenated with its voxel's max of that output (so the width is restored); the last
    layer is the same at full width, then the pooling (``max`` in the official code).
    ``variant="plain"`` is a PointNet stack (``Linear -> BatchNorm -> ReLU`` at full width,
    no concatenation) before the pooling.

    Pillars (a grid with one cell along z) keep points above and below the z range, as the
    official dynamic pillar VFE does (its points are filtered in x and y only); a voxel grid
    drops points outside the range on every axis.

    Args:
        in_channels: point channels ``C`` (xyz first).
        channels: widths of the point-wise layers (the last is the output width; with the
            official variant every width but the last must be even).
        voxel_size, point_range: the grid (pillars: a z size spanning the range).
        pooling: ``max`` (PointPillars, DSVT), ``mean``, ``max+mean``, ``soft`` or
            ``attention``.
        heads, query: for attention pooling (PVTransformer: ``query="residual"``).
        variant: ``official`` or ``plain`` (above).
        max_points_per_voxel, max_voxels: hard voxelization's caps (OpenPCDet's PointPillars
            on KITTI: 32 points, ``(16000, 40000)`` pillars per scene in training and in
            evaluation); ``None`` keeps every point (dynamic voxelization, DSVT's).
    """

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, ...],
        voxel_size,
        point_range,
        pooling: str = "max",
        heads: int = 4,
        query: str = "residual",
        variant: str = "official",
        max_points_per_voxel: int | None = None,
        max_voxels: int | tuple[int, int] | None = None,
    ):
        super().__init__()
        if variant not in VFE_VARIANTS:
            raise ValueError(f"'variant' must be one of {VFE_VARIANTS} (got {variant!r})")
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1:
            raise ValueError(f"'channels' must be one or more positive widths (got {channels})")
        if variant == "official" and any(c % 2 for c in channels[:-1]):
            raise ValueError(
                f"the official VFE halves every width but the last, which must be even "
                f"(got {channels})"
            )
        self.grid = VoxelGrid(voxel_size, point_range)
        self.assigner = VoxelAssigner(self.grid, max_points_per_voxel, max_voxels)
        self.voxel_size, self.point_range = list(self.grid.voxel_size), list(self.grid.point_range)
        self.pillars = self.grid.is_pillars
        self.in_channels = in_channels
        self.variant = variant
        self.layers = nn.ModuleList()
        width = in_channels + 6
        for i, out in enumerate(channels):
            last = i == len(channels) - 1
            hidden = out if (last or variant == "plain") else out // 2
            if variant == "official":
                norm = nn.BatchNorm1d(hidden, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM)
            else:
                norm = nn.BatchNorm1d(hidden)
            self.layers.append(nn.Sequential(nn.Linear(width, hidden, bias=False), norm, nn.ReLU()))
            width = out
        self.pool = SetPool(pooling, width, heads=heads, query=query)
        self.out_channels = width

    @property
    def max_points_per_voxel(self) -> int | None:
        return self.assigner.max_points_per_voxel

    @property
    def max_voxels(self) -> tuple[int, int] | None:
        return self.assigner.max_voxels

    def point_voxels(self, points: torch.Tensor) -> torch.Tensor:
        """Each point's voxel ``(P, 3)`` int32 ``(z, y, x)``, ``-1`` rows outside the grid.
        Pillars ignore z (official)."""
        return self.assigner.point_voxels(points)

    def forward(
        self, points: torch.Tensor, batch: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``points (P, C), batch (P,) -> (features (V, out), voxels (V, 4))``: the
        assignment (:class:`VoxelAssigner`), then :meth:`encode`."""
        return self.encode(*self.assigner(points, batch))

    def encode(
        self,
        points: torch.Tensor,
        coords: torch.Tensor,
        index: torch.Tensor,
        voxels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The feature math on assigned points (:class:`VoxelAssigner`'s outputs): tensors in,
        tensors out, no data-dependent shapes beyond its inputs'."""
        num_voxels = voxels.shape[0]
        xyz = points[:, :3]
        mean = scatter(xyz, index, num_voxels, "mean")[index]
        centre = self.grid.cell_centres(coords, xyz.dtype)  # (x, y, z) order
        features = torch.cat([points, xyz - mean, xyz - centre], dim=1)
        for i, layer in enumerate(self.layers):
            features = layer(features)  # (P, width)
            if self.variant == "official" and i < len(self.layers) - 1:
                voxel_max = scatter(features, index, num_voxels, "max")  # (V, width)
                features = torch.cat([features, voxel_max[index]], dim=1)
        return self.pool.segments(features, index, num_voxels), voxels

    def encode_slotted(
        self,
        points: torch.Tensor,
        index: torch.Tensor,
        rows: SlotRows,
        voxels: torch.Tensor,
    ) -> torch.Tensor:
        """:meth:`encode` with every segment reduction read through slot rows instead of a
        scatter: ``points (P, C)`` and ``index (P,)`` as for :meth:`encode`, ``rows`` each
        voxel's points in rows of slots (:func:`geo3d.pooling.slot_rows.slot_rows`), ``voxels
        (V, 4)`` -> ``features (V, out)``, the same function for voxels of any size. The
        point-wise layers run on the ``P`` real points; reductions are gathers and reductions
        over padded axes, which every ONNX runtime and TensorRT import (the form an exporter
        writes)."""
        xyz = points[:, :3]
        mean = rows_mean(xyz, rows)  # (V, 3)
        centre = self.grid.cell_centres(voxels[:, 1:], xyz.dtype)  # (V, 3) x, y, z
        features = torch.cat([points, xyz - mean[index], xyz - centre[index]], dim=1)
        for i, layer in enumerate(self.layers):
            features = layer(features)  # (P, width)
            if self.variant == "official" and i < len(self.layers) - 1:
                features = torch.cat([features, rows_max(features, rows)[index]], dim=1)
        return self.pool.slotted(features, index, rows)


class VoxelAssigner(nn.Module):
    """The data-dependent index work of a voxel feature encoder (no parameters), the part a
    pipeline's ``preprocess`` runs: ``points (P, C), batch (P,) -> (points (P', C),
    coords (P', 3) int64 (z, y, x), index (P',) int64, voxels (V, 4) int64 (b, z, y, x))``.

    Points outside the grid are dropped (pillars ignore z, as the official dynamic pillar
    VFE); voxels are the unique ``(b, z, y, x)`` keys (:func:`geo3d.ops.unique_rows`);
    with caps, hard voxelization's rule applies per scene
    (:func:`geo3d.structures.hard_voxel_mask`, the training or evaluation count by mode).
    """

    def __init__(self, grid: VoxelGrid, max_points_per_voxel=None, max_voxels=None):
        super().__init__()
        if max_points_per_voxel is not None and int(max_points_per_voxel) < 1:
            raise ValueError(f"'max_points_per_voxel' must be >= 1 (got {max_points_per_voxel})")
        caps = (max_voxels, max_voxels) if isinstance(max_voxels, int) else max_voxels
        if caps is not None and (len(caps) != 2 or min(int(c) for c in caps) < 1):
            raise ValueError(
                f"'max_voxels' must be a count >= 1 or (training, evaluation) counts "
                f"(got {max_voxels})"
            )
        self.grid = grid
        self.max_points_per_voxel = max_points_per_voxel
        self.max_voxels = None if caps is None else tuple(int(c) for c in caps)

    def point_voxels(self, points: torch.Tensor) -> torch.Tensor:
        return self.grid.point_cells(points, ignore_z=self.grid.is_pillars)

    def forward(self, points: torch.Tensor, batch: torch.Tensor):
        if batch.shape != points.shape[:1]:
            raise ValueError(
                f"'batch' must have one entry per point ({points.shape[0]}) "
                f"(got shape {tuple(batch.shape)})"
            )
        coords = self.point_voxels(points)  # (P, 3) z, y, x
        inside = coords[:, 0] >= 0
        points, coords, batch = points[inside], coords[inside].long(), batch[inside]
        keys = torch.cat([batch[:, None].long(), coords], dim=1)  # (P, 4)
        voxels, index = unique_rows(keys, return_inverse=True)
        if self.max_points_per_voxel is not None or self.max_voxels is not None:
            cap = None if self.max_voxels is None else self.max_voxels[0 if self.training else 1]
            kept = hard_voxel_mask(index, voxels[:, 0], self.max_points_per_voxel, cap)
            if not bool(kept.all()):
                points, coords, keys = points[kept], coords[kept], keys[kept]
                voxels, index = unique_rows(keys, return_inverse=True)
        return points, coords, index, voxels


class VoxelAssignment(nn.Module):
    """A voxel detector's ``preprocess``: ``(points (P, C), batch (P,), scenes ()) ->
    (points, coords, index, voxels, scenes)``, a :class:`VoxelAssigner` (no parameters) with
    the scene count passed along."""

    def __init__(self, assigner: VoxelAssigner):
        super().__init__()
        self.assigner = assigner

    def forward(self, points: torch.Tensor, batch: torch.Tensor, scenes: torch.Tensor):
        return (*self.assigner(points, batch), scenes)
