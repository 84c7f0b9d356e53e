"""VoxelGrid: one place for the grid arithmetic, agreeing with the voxelization kernels."""

import pytest
import torch

from geo3d.ops import dynamic_voxelize, voxelize
from geo3d.structures import VoxelGrid, points_in_range

KITTI_PILLARS = VoxelGrid((0.16, 0.16, 4.0), (0, -39.68, -3, 69.12, 39.68, 1))


def test_size_shape_and_pillars():
    assert KITTI_PILLARS.size == (432, 496, 1) and KITTI_PILLARS.is_pillars
    assert KITTI_PILLARS.bev_shape() == (496, 432)
    voxels = VoxelGrid([0.05, 0.05, 0.1], [0, -40, -3, 70.4, 40, 1])
    assert voxels.size == (1408, 1600, 40) and not voxels.is_pillars
    assert isinstance(voxels.voxel_size, tuple) and voxels.point_range[3] == 70.4


def test_cells_centres_and_range_agree_with_the_kernels():
    generator = torch.Generator().manual_seed(0)
    grid = VoxelGrid((0.5, 0.5, 0.25), (-2, -2, -1, 2, 2, 1))
    points = torch.rand(500, 4, generator=generator) * 6 - 3  # inside and outside
    cells = grid.point_cells(points)
    assert torch.equal(cells, dynamic_voxelize(points, grid.voxel_size, grid.point_range))
    inside = cells[:, 0] >= 0
    assert torch.equal(inside, grid.contains(points))  # the range is a whole number of cells
    centres = grid.cell_centres(cells[inside])
    offset = (points[inside, :3] - centres).abs()
    assert bool((offset <= torch.tensor(grid.voxel_size) / 2 + 1e-6).all())
    voxels, coords, counts = grid.voxelize(points, 8, 1000)
    expected = voxelize(points, grid.voxel_size, grid.point_range, 8, 1000)
    assert all(torch.equal(a, b) for a, b in zip((voxels, coords, counts), expected))


def test_pillars_can_keep_points_outside_the_z_range():
    points = torch.tensor([[1.0, 1.0, 50.0], [1.0, 1.0, 0.0], [1.0, 1.0, -50.0]])
    assert KITTI_PILLARS.point_cells(points)[:, 0].tolist() == [-1, 0, -1]
    kept = KITTI_PILLARS.point_cells(points, ignore_z=True)
    assert kept.tolist() == [[0, 254, 6]] * 3


def test_points_in_range_is_half_open():
    xyz = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.5, 0.5], [0.999, 0.999, 0.999]])
    assert points_in_range(xyz, (0, 0, 0, 1, 1, 1)).tolist() == [True, False, True]


@pytest.mark.parametrize(
    "voxel_size,point_range,fragment",
    [
        ((0.1, 0.1), (0, 0, 0, 1, 1, 1), "3 values"),
        ((0.1, 0.0, 0.1), (0, 0, 0, 1, 1, 1), "positive"),
        ((0.1, 0.1, 0.1), (0, 0, 0, 1, 1), "6 values"),
        ((0.1, 0.1, 0.1), (0, 0, 0, float("nan"), 1, 1), "finite"),
        ((0.1, 0.1, 0.1), (1, 0, 0, 0, 1, 1), "empty"),
        ((1e-10, 1.0, 1.0), (0, 0, 0, 1, 1, 1), "int32"),
    ],
)
def test_bad_grids_are_named(voxel_size, point_range, fragment):
    with pytest.raises(ValueError, match=fragment):
        VoxelGrid(voxel_size, point_range)
