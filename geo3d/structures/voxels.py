"""A voxel grid: its size, its cells' centres and the point-to-cell map, written once for
voxelization, voxel feature encoders, point-range filters and BEV scatters."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geo3d.ops import check_grid, dynamic_voxelize, grid_size, voxelize


def points_in_range(xyz: torch.Tensor, point_range) -> torch.Tensor:
    """``(N,)`` bool: ``xyz (N, 3)`` inside ``[xmin, xmax) x [ymin, ymax) x [zmin, zmax)``."""
    low = xyz.new_tensor(point_range[:3])
    high = xyz.new_tensor(point_range[3:])
    return ((xyz >= low) & (xyz < high)).all(dim=1)


@dataclass(frozen=True)
class VoxelGrid:
    """A regular grid over ``point_range`` with cells of ``voxel_size`` (checked by
    :func:`geo3d.ops.check_grid`).

    Cells are indexed ``floor((p - min) / voxel_size)`` per axis, voxel coordinates are
    int32 ``(z, y, x)``, and the grid has ``round((max - min) / voxel_size)`` cells per
    axis (half to even, as spconv and mmcv), so a point is in the grid exactly when its
    cell is. A grid with one cell along z is a pillar grid.

    Attributes:
        voxel_size: ``(x, y, z)`` cell sizes.
        point_range: ``(xmin, ymin, zmin, xmax, ymax, zmax)``.
    """

    voxel_size: tuple[float, float, float]
    point_range: tuple[float, float, float, float, float, float]

    def __post_init__(self):
        voxel_size, point_range = check_grid(self.voxel_size, self.point_range)
        object.__setattr__(self, "voxel_size", tuple(voxel_size))
        object.__setattr__(self, "point_range", tuple(point_range))

    @property
    def size(self) -> tuple[int, int, int]:
        """Cells per axis ``(nx, ny, nz)``."""
        return tuple(grid_size(self.voxel_size, self.point_range))

    @property
    def is_pillars(self) -> bool:
        return self.size[2] == 1

    def bev_shape(self) -> tuple[int, int]:
        """``(ny, nx)``: the bird's-eye-view canvas a BEV scatter fills."""
        nx, ny, _ = self.size
        return ny, nx

    def contains(self, xyz: torch.Tensor) -> torch.Tensor:
        """``(N,)`` bool: the points of ``xyz (N, 3+)`` inside the range."""
        return points_in_range(xyz[:, :3], self.point_range)

    def cell_centres(self, coords: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
        """``coords (N, 3)`` int ``(z, y, x)`` -> ``(N, 3)`` cell centres ``(x, y, z)``."""
        size = torch.tensor(self.voxel_size, dtype=dtype, device=coords.device)
        low = torch.tensor(self.point_range[:3], dtype=dtype, device=coords.device)
        return (coords.flip(1).to(dtype) + 0.5) * size + low

    def point_cells(self, points: torch.Tensor, ignore_z: bool = False) -> torch.Tensor:
        """Each point's cell ``(N, 3)`` int32 ``(z, y, x)``, ``-1`` rows outside the grid
        (the native :func:`geo3d.ops.dynamic_voxelize`). ``ignore_z``: every point is
        placed in the lowest z layer (pillars that keep points above and below the range,
        as DSVT's dynamic pillar VFE)."""
        if ignore_z:
            z_centre = self.point_range[2] + self.voxel_size[2] / 2
            flat = points.new_full((points.shape[0], 1), z_centre)
            points = torch.cat([points[:, :2], flat], dim=1)
        return dynamic_voxelize(points, self.voxel_size, self.point_range)

    def voxelize(self, points: torch.Tensor, max_points_per_voxel: int, max_voxels: int):
        """Hard voxelization into this grid (:func:`geo3d.ops.voxelize`)."""
        return voxelize(points, self.voxel_size, self.point_range, max_points_per_voxel, max_voxels)


def hard_voxel_mask(
    index: torch.Tensor,
    voxel_batch: torch.Tensor,
    max_points_per_voxel: int | None,
    max_voxels: int | None,
) -> torch.Tensor:
    """Which points hard voxelization keeps (:func:`geo3d.ops.voxelize`'s rule, per scene):
    voxels are numbered by their first point in input order, each keeps its first
    ``max_points_per_voxel`` points, and a scene keeps its first ``max_voxels`` voxels
    (``None``: no cap).

    Args:
        index: ``(P,)`` int64, each point's voxel (points packed, in input order).
        voxel_batch: ``(V,)`` each voxel's scene.

    Returns:
        ``(P,)`` bool.
    """
    count = index.shape[0]
    keep = torch.ones(count, dtype=torch.bool, device=index.device)
    if count == 0 or (max_points_per_voxel is None and max_voxels is None):
        return keep
    num_voxels = voxel_batch.shape[0]
    position = torch.arange(count, device=index.device)
    if max_points_per_voxel is not None:
        by_voxel = torch.argsort(index, stable=True)  # input order inside each voxel
        sizes = torch.bincount(index, minlength=num_voxels)
        starts = torch.cumsum(sizes, 0) - sizes
        slot = torch.empty_like(position)
        slot[by_voxel] = position - starts[index[by_voxel]]
        keep &= slot < max_points_per_voxel
    if max_voxels is not None:
        first = torch.full((num_voxels,), count, dtype=torch.int64, device=index.device)
        first = first.scatter_reduce(0, index, position, reduce="amin")
        batch = voxel_batch.long()
        order = torch.argsort(batch * (count + 1) + first)  # by scene, then first point
        per_scene = torch.bincount(batch, minlength=int(batch.max()) + 1)
        scene_start = torch.cumsum(per_scene, 0) - per_scene
        rank = torch.empty_like(first)
        rank[order] = torch.arange(num_voxels, device=index.device) - scene_start[batch[order]]
        keep &= rank[index] < max_voxels
    return keep
