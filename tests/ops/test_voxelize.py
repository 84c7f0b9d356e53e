import os

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d import ops
from tests.conftest import devices

KITTI_RANGE = [0.0, -40.0, -3.0, 70.4, 40.0, 1.0]


def random_points(n, channels, seed, dtype=torch.float32, spread=6.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, channels, generator=g, dtype=dtype) - 0.5) * spread


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("max_points,max_voxels", [(1, 1000), (3, 50), (35, 20000), (5, 1)])
def test_voxelize_matches_reference(dtype, max_points, max_voxels):
    points = random_points(4000, 5, seed=max_points, dtype=dtype)
    args = ([0.4, 0.5, 0.7], [-2.0, -2.5, -2.1, 2.0, 2.5, 2.1], max_points, max_voxels)
    got = ops.voxelize(points, *args)
    want = ops.voxelize_reference(points, *args)
    assert got[0].dtype == dtype and got[1].dtype == torch.int32 and got[2].dtype == torch.int32
    for g, w in zip(got, want):
        assert g.shape == w.shape and torch.equal(g, w)


@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**31 - 1),
    max_points=st.integers(1, 6),
    max_voxels=st.integers(1, 200),
    size=st.floats(0.05, 2.0),
    duplicates=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_voxelize_property(n, seed, max_points, max_voxels, size, duplicates):
    points = random_points(n, 4, seed)
    if duplicates:
        points = torch.round(points)
    args = (
        [size, size * 0.7, size * 1.3],
        [-2.0, -2.0, -2.0, 2.0, 2.0, 2.0],
        max_points,
        max_voxels,
    )
    for g, w in zip(ops.voxelize(points, *args), ops.voxelize_reference(points, *args)):
        assert torch.equal(g, w)
    coords = ops.dynamic_voxelize(points, args[0], args[1])
    assert torch.equal(coords, ops.dynamic_voxelize_reference(points, args[0], args[1]))


def test_voxelize_hand_checked():
    points = torch.tensor(
        [
            [0.5, 0.5, 0.5, 1.0],  # voxel (0,0,0)
            [1.5, 0.5, 0.5, 2.0],  # voxel x=1
            [0.2, 0.1, 0.3, 3.0],  # voxel (0,0,0) again
            [2.0, 0.5, 0.5, 4.0],  # x == xmax: outside (half-open range)
            [0.7, 0.7, 0.7, 5.0],  # third point of voxel 0: over the cap of 2
            [-0.1, 0.5, 0.5, 6.0],  # outside
        ]
    )
    voxels, coords, num = ops.voxelize(points, [1, 1, 1], [0, 0, 0, 2, 1, 1], 2, 10)
    assert coords.tolist() == [[0, 0, 0], [0, 0, 1]]  # (z, y, x), order of first points
    assert num.tolist() == [2, 1]
    assert torch.equal(voxels[0], points[[0, 2]])
    assert voxels[1].tolist() == [[1.5, 0.5, 0.5, 2.0], [0, 0, 0, 0]]
    dyn = ops.dynamic_voxelize(points, [1, 1, 1], [0, 0, 0, 2, 1, 1])
    assert dyn.tolist() == [[0, 0, 0], [0, 0, 1], [0, 0, 0], [-1, -1, -1], [0, 0, 0], [-1, -1, -1]]


def test_voxelize_drops_voxels_past_max_voxels_in_first_point_order():
    points = torch.tensor([[2.5, 0.5, 0.5], [0.5, 0.5, 0.5], [1.5, 0.5, 0.5], [0.6, 0.5, 0.5]])
    voxels, coords, num = ops.voxelize(points, [1, 1, 1], [0, 0, 0, 3, 1, 1], 4, 2)
    assert coords[:, 2].tolist() == [2, 0] and num.tolist() == [1, 2]


def test_voxelize_empty_input():
    voxels, coords, num = ops.voxelize(torch.zeros(0, 4), [1, 1, 1], [0, 0, 0, 1, 1, 1], 5, 10)
    assert voxels.shape == (0, 5, 4) and coords.shape == (0, 3) and num.shape == (0,)


@pytest.mark.parametrize(
    "voxel_size,point_range,match",
    [
        ([1, 1], [0, 0, 0, 1, 1, 1], "voxel_size"),
        ([1, 0, 1], [0, 0, 0, 1, 1, 1], "voxel_size"),
        ([1, -1, 1], [0, 0, 0, 1, 1, 1], "voxel_size"),
        ([1, 1, 1], [0, 0, 0, 1, 1], "point_range"),
        ([1, 1, 1], [0, 0, 0, 0, 1, 1], "empty"),
        ([1, 1, 1], [0, 0, 0, -1, 1, 1], "empty"),
        ([1, 1, 1], [0, 0, 0, float("inf"), 1, 1], "finite"),
    ],
)
def test_voxelize_bad_grid(voxel_size, point_range, match):
    with pytest.raises(ValueError, match=match):
        ops.voxelize(torch.rand(5, 4), voxel_size, point_range, 2, 10)
    with pytest.raises(ValueError, match=match):
        ops.dynamic_voxelize(torch.rand(5, 4), voxel_size, point_range)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_grids_whose_coordinates_overflow_int32_are_rejected_everywhere(device, axis):
    size = [1.0, 1.0, 1.0]
    point_range = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    point_range[3 + axis] = 3e9  # 3e9 cells: int32 coordinates would wrap around
    points = torch.rand(5, 4, device=device)
    name = "xyz"[axis]
    with pytest.raises(ValueError, match=f"3000000000 cells along {name}.*int32"):
        ops.dynamic_voxelize(points, size, point_range)
    with pytest.raises(ValueError, match=f"3000000000 cells along {name}"):
        ops.voxelize(points, size, point_range, 2, 10)
    # the kernels themselves (called directly, past the wrapper) refuse it the same way
    with pytest.raises(RuntimeError, match=f"3e\\+09 cells along {name}.*int32"):
        torch.ops.geo3d.dynamic_voxelize(points, size, point_range)
    if device == "cpu":
        with pytest.raises(RuntimeError, match=f"cells along {name}"):
            torch.ops.geo3d.voxelize(points, size, point_range, 2, 10)
    # the largest grid that fits still works, and its coordinates are exact
    point_range[3 + axis] = float(2**31 - 1)
    far = torch.zeros(1, 4, dtype=torch.float64, device=device)
    far[0, axis] = 2**31 - 1.5
    coords = ops.dynamic_voxelize(far, size, point_range)
    assert coords.dtype == torch.int32 and int(coords[0, 2 - axis]) == 2**31 - 2


def test_voxelize_bad_points_and_caps():
    grid = ([1, 1, 1], [0, 0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match="points"):
        ops.voxelize(torch.rand(5, 2), *grid, 2, 10)
    with pytest.raises(ValueError, match="points"):
        ops.voxelize(torch.rand(1, 5, 4), *grid, 2, 10)
    bad = torch.rand(5, 4)
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        ops.voxelize(bad, *grid, 2, 10)
    with pytest.raises(ValueError, match="max_points_per_voxel"):
        ops.voxelize(torch.rand(5, 4), *grid, 0, 10)
    with pytest.raises(ValueError, match="max_voxels"):
        ops.voxelize(torch.rand(5, 4), *grid, 2, 0)


def load_kitti(shared_data, frame="000000"):
    path = os.path.join(shared_data, "kitti", "training", "velodyne", f"{frame}.bin")
    return torch.from_numpy(np.fromfile(path, dtype=np.float32).reshape(-1, 4).copy())


@pytest.mark.parametrize(
    "voxel_size,max_points,max_voxels",
    [([0.05, 0.05, 0.1], 5, 16000), ([0.16, 0.16, 4.0], 32, 16000), ([0.05, 0.05, 0.1], 5, 3000)],
)
def test_voxelize_matches_spconv_on_kitti(shared_data, voxel_size, max_points, max_voxels):
    spconv_utils = pytest.importorskip("spconv.pytorch.utils")
    points = load_kitti(shared_data)
    generator = spconv_utils.PointToVoxel(
        vsize_xyz=voxel_size,
        coors_range_xyz=KITTI_RANGE,
        num_point_features=4,
        max_num_voxels=max_voxels,
        max_num_points_per_voxel=max_points,
    )
    want_voxels, want_coords, want_num = generator(points)
    voxels, coords, num = ops.voxelize(points, voxel_size, KITTI_RANGE, max_points, max_voxels)
    assert torch.equal(coords, want_coords.to(torch.int32))
    assert torch.equal(num, want_num.to(torch.int32))
    assert torch.equal(voxels, want_voxels)


def test_dynamic_voxelize_agrees_with_hard_voxelization_on_kitti(shared_data):
    points = load_kitti(shared_data, "000001")
    size = [0.2, 0.2, 0.2]
    coords = ops.dynamic_voxelize(points, size, KITTI_RANGE)
    inside = coords[:, 0] >= 0
    unique, counts = torch.unique(coords[inside], dim=0, return_counts=True)
    _, voxel_coords, num = ops.voxelize(points, size, KITTI_RANGE, int(counts.max()), 10**7)
    order = torch.argsort((voxel_coords.long() * torch.tensor([10**8, 10**4, 1])).sum(1))
    assert torch.equal(unique, voxel_coords[order])
    assert torch.equal(counts.to(torch.int32), num[order])


def test_half_cells_round_to_even_as_spconv_and_mmcv():
    """A range of 2.5 voxels has 2 cells (numpy's and torch's rounding), 3.5 has 4."""
    points = torch.tensor([[1.7, 0.1, 0.1, 0.0], [3.3, 0.1, 0.1, 0.0]])
    for size, cells in ((1.6, 2), (4.0 / 3.5, 4)):
        assert ops.grid_size([size, 1.0, 1.0], [0, 0, 0, 4.0, 1, 1])[0] == cells
        coords = ops.dynamic_voxelize(points, [size, 1.0, 1.0], [0, 0, 0, 4.0, 1, 1])
        assert torch.equal(
            coords, ops.dynamic_voxelize_reference(points, [size, 1.0, 1.0], [0, 0, 0, 4.0, 1, 1])
        )
        inside = [bool(c[0] >= 0) for c in coords]
        assert inside == [1.7 / size < cells, 3.3 / size < cells]
