"""``hard_voxel_mask`` (the capped pillars of PointPillars on packed scenes) keeps exactly
the points :func:`geo3d.ops.voxelize` keeps, scene by scene."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geo3d.ops import unique_rows, voxelize
from geo3d.pooling import VoxelFeatureEncoder
from geo3d.structures import VoxelGrid, hard_voxel_mask

GRID = VoxelGrid((1.0, 1.0, 4.0), (0.0, 0.0, -2.0, 4.0, 3.0, 2.0))


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 80), min_size=1, max_size=3),
    max_points=st.one_of(st.none(), st.integers(1, 6)),
    max_voxels=st.one_of(st.none(), st.integers(1, 12)),
    seed=st.integers(0, 2**31 - 1),
)
def test_hard_voxel_mask_matches_voxelize_per_scene(sizes, max_points, max_voxels, seed):
    generator = torch.Generator().manual_seed(seed)
    scenes = []
    for size in sizes:
        xyz = torch.rand(size, 3, generator=generator, dtype=torch.float64)
        scenes.append(xyz * torch.tensor([3.99, 2.99, 3.9]) + torch.tensor([0.0, 0.0, -1.95]))
    points = torch.cat(scenes).float()
    batch = torch.cat([torch.full((n,), b) for b, n in enumerate(sizes)])
    keys = torch.cat([batch[:, None], GRID.point_cells(points).long()], 1)
    voxels, index = unique_rows(keys, return_inverse=True)
    kept = hard_voxel_mask(index, voxels[:, 0], max_points, max_voxels)
    ids = torch.arange(points.shape[0], dtype=torch.float32)
    start = 0
    for size, xyz in zip(sizes, scenes):
        expected = set()
        if size:
            with_ids = torch.cat([xyz.float(), ids[start : start + size, None]], 1)
            grid_voxels, _, counts = voxelize(
                with_ids,
                GRID.voxel_size,
                GRID.point_range,
                max_points or size,
                max_voxels or size,
            )
            for v in range(grid_voxels.shape[0]):
                expected |= {int(i) for i in grid_voxels[v, : int(counts[v]), 3]}
        got = {start + i for i in kept[start : start + size].nonzero().flatten().tolist()}
        assert got == expected
        start += size


def test_capped_encoder_uses_the_training_or_evaluation_cap():
    points = torch.rand(300, 4) * torch.tensor([4.0, 3.0, 1.0, 1.0])
    batch = torch.zeros(300, dtype=torch.int64)
    encoder = VoxelFeatureEncoder(
        4, (8,), GRID.voxel_size, GRID.point_range, max_points_per_voxel=3, max_voxels=(4, 7)
    )
    encoder.train()
    assert encoder(points, batch)[1].shape[0] == 4
    encoder.eval()
    assert encoder(points, batch)[1].shape[0] == 7
    for bad in ({"max_points_per_voxel": 0}, {"max_voxels": (1, 2, 3)}, {"max_voxels": 0}):
        try:
            VoxelFeatureEncoder(4, (8,), GRID.voxel_size, GRID.point_range, **bad)
        except ValueError as error:
            assert "max_" in str(error)
        else:
            raise AssertionError(f"{bad} was accepted")
