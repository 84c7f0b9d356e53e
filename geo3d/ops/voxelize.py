"""Sparse voxelization of point clouds: hard (capped) and dynamic."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference


def grid_size(voxel_size: Sequence[float], point_range: Sequence[float]) -> list[int]:
    """Voxels per axis (x, y, z): ``round((max - min) / voxel_size)``, half to even, as spconv
    and mmcv round (numpy and torch): 2.5 cells is 2."""
    return [round((point_range[3 + a] - point_range[a]) / voxel_size[a]) for a in range(3)]


def _point_coords(points, voxel_size, point_range):
    """``(N, C) -> coords (N, 3) int64 (x, y, z), inside (N,)``; computed in the points' dtype."""
    low = points.new_tensor(point_range[:3])
    size = points.new_tensor(voxel_size)
    grid = torch.tensor(grid_size(voxel_size, point_range), device=points.device)
    coords = torch.floor((points[:, :3] - low) / size).to(torch.int64)
    inside = ((coords >= 0) & (coords < grid)).all(dim=1)
    return coords, inside


@register_reference("dynamic_voxelize")
def dynamic_voxelize_reference(points, voxel_size, point_range):
    """See :func:`dynamic_voxelize`."""
    coords, inside = _point_coords(points, voxel_size, point_range)
    zyx = coords.flip(1).to(torch.int32)
    return torch.where(inside[:, None], zyx, torch.full_like(zyx, -1))


@register_reference("voxelize")
def voxelize_reference(points, voxel_size, point_range, max_points_per_voxel, max_voxels):
    """See :func:`voxelize`: the same result from sorting instead of a hash table."""
    num_features = points.shape[1]
    coords, inside = _point_coords(points, voxel_size, point_range)
    nx, ny, _ = grid_size(voxel_size, point_range)
    point_ids = inside.nonzero().squeeze(1)  # (N_in,) in input order
    coords = coords[point_ids]
    keys = (coords[:, 2] * ny + coords[:, 1]) * nx + coords[:, 0]
    unique_keys, inverse = torch.unique(keys, return_inverse=True)
    order_in = torch.arange(point_ids.shape[0], device=points.device)
    first = torch.full_like(unique_keys, point_ids.shape[0]).scatter_reduce(
        0, inverse, order_in, reduce="amin"
    )
    voxel_rank = torch.empty_like(first)
    voxel_rank[first.argsort()] = torch.arange(first.shape[0], device=points.device)
    voxel_of_point = voxel_rank[inverse]  # voxels numbered by their first point
    num_voxels = min(int(first.shape[0]), max_voxels)

    by_voxel = voxel_of_point.argsort(stable=True)  # input order within each voxel
    sorted_voxels = voxel_of_point[by_voxel]
    counts = torch.bincount(sorted_voxels, minlength=first.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(by_voxel)
    slot[by_voxel] = torch.arange(by_voxel.shape[0], device=points.device) - starts[sorted_voxels]
    keep = (voxel_of_point < num_voxels) & (slot < max_points_per_voxel)

    voxels = points.new_zeros((num_voxels, max_points_per_voxel, num_features))
    voxels[voxel_of_point[keep], slot[keep]] = points[point_ids[keep]]
    voxel_coords = coords.new_zeros((num_voxels, 3))
    first_kept = first.argsort()[:num_voxels]
    voxel_coords[:] = coords[first[first_kept]]
    num_points = counts[:num_voxels].clamp(max=max_points_per_voxel)
    return voxels, voxel_coords.flip(1).to(torch.int32).contiguous(), num_points.to(torch.int32)


@torch.library.register_fake("geo3d::voxelize")
def _voxelize_fake(points, voxel_size, point_range, max_points_per_voxel, max_voxels):
    num_voxels = torch.library.get_ctx().new_dynamic_size(max=max_voxels)
    return (
        points.new_empty((num_voxels, max_points_per_voxel, points.shape[1])),
        points.new_empty((num_voxels, 3), dtype=torch.int32),
        points.new_empty((num_voxels,), dtype=torch.int32),
    )


@torch.library.register_fake("geo3d::dynamic_voxelize")
def _dynamic_voxelize_fake(points, voxel_size, point_range):
    return points.new_empty((points.shape[0], 3), dtype=torch.int32)


def _as_floats(values) -> list[float]:
    """A list of Python floats from a sequence, array or tensor (no tensor op: export-safe)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().reshape(-1).tolist()
    return [float(v) for v in values]


def check_grid(voxel_size, point_range) -> tuple[list[float], list[float]]:
    """Validate a voxel grid, as floats: 3 positive finite sizes, 6 finite bounds spanning
    at least one cell per axis, and int32 cell coordinates on every axis (the dtype of
    voxel coordinates, as spconv and OpenPCDet expect; CPU and CUDA kernels check the
    same). :class:`geo3d.structures.VoxelGrid` holds a grid checked by this."""
    voxel_size = _as_floats(voxel_size)
    point_range = _as_floats(point_range)
    if len(voxel_size) != 3:
        raise ValueError(
            f"Expected 'voxel_size' to have 3 values (x, y, z) (got {len(voxel_size)})"
        )
    if not all(v > 0 and v != float("inf") for v in voxel_size):
        raise ValueError(f"'voxel_size' must be positive and finite (got {voxel_size})")
    if len(point_range) != 6:
        raise ValueError(
            "Expected 'point_range' to have 6 values (xmin, ymin, zmin, xmax, ymax, zmax) "
            f"(got {len(point_range)})"
        )
    if not all(abs(v) != float("inf") and v == v for v in point_range):
        raise ValueError(f"'point_range' must be finite (got {point_range})")
    sizes = grid_size(voxel_size, point_range)
    if any(s < 1 for s in sizes):
        raise ValueError(
            f"'point_range' {point_range} is empty at 'voxel_size' {voxel_size} (grid {sizes})"
        )
    int32_max = 2**31 - 1
    for axis, cells in zip("xyz", sizes):
        if cells > int32_max:
            raise ValueError(
                f"the voxel grid has {cells} cells along {axis} ('point_range' {point_range}, "
                f"'voxel_size' {voxel_size}); int32 voxel coordinates hold at most {int32_max}"
            )
    if sizes[0] * sizes[1] * sizes[2] >= 2**62:
        raise ValueError(f"the voxel grid {sizes} is too large to index")
    return voxel_size, point_range


def _check_grid(points, voxel_size, point_range) -> tuple[list[float], list[float]]:
    _checks.check_points("points", points, batched=False)
    voxel_size, point_range = check_grid(voxel_size, point_range)
    _checks.check_finite("points", points, columns=3)  # features may be NaN; x, y, z not
    return voxel_size, point_range


def voxelize(
    points: torch.Tensor,
    voxel_size: Sequence[float],
    point_range: Sequence[float],
    max_points_per_voxel: int,
    max_voxels: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hard voxelization with the semantics of spconv's ``PointToVoxel`` and mmcv's
    ``Voxelization``.

    A point's voxel is ``floor((p - min) / voxel_size)`` per axis, in the points' dtype;
    points outside ``[xmin, xmax) x [ymin, ymax) x [zmin, zmax)`` (precisely: whose voxel
    lies outside ``round((max - min) / voxel_size)`` voxels) are dropped. Voxels are
    numbered in the order of their first point; a voxel keeps its first
    ``max_points_per_voxel`` points in input order; voxels past ``max_voxels`` are dropped.

    Args:
        points: (N, C) float32/float64, x y z first, then any features.
        voxel_size: (3,) x, y, z sizes; point_range: (6,) xmin ymin zmin xmax ymax zmax.

    Returns:
        ``voxels (V, P, C)`` with unused slots zero, ``coords (V, 3)`` int32 as (z, y, x),
        ``num_points (V,)`` int32; V <= max_voxels.
    """
    voxel_size, point_range = _check_grid(points, voxel_size, point_range)
    _checks.check_positive_int("max_points_per_voxel", max_points_per_voxel)
    _checks.check_positive_int("max_voxels", max_voxels)
    return op("voxelize")(
        points.contiguous(), voxel_size, point_range, max_points_per_voxel, max_voxels
    )


def dynamic_voxelize(
    points: torch.Tensor, voxel_size: Sequence[float], point_range: Sequence[float]
) -> torch.Tensor:
    """Each point's voxel, with no cap: ``points (N, C) -> coords (N, 3)`` int32 (z, y, x).

    Rows of points outside the range (as in :func:`voxelize`) are ``-1``.
    """
    voxel_size, point_range = _check_grid(points, voxel_size, point_range)
    return op("dynamic_voxelize")(points.contiguous(), voxel_size, point_range)
