"""The ops on real LiDAR sweeps: uneven density, rings, near-duplicates."""

import os

import numpy as np
import torch

from geo3d import ops


def kitti_xyz(shared_data, frame):
    path = os.path.join(shared_data, "kitti", "training", "velodyne", f"{frame}.bin")
    points = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    return torch.from_numpy(points[:, :3].copy())


def nuscenes_xyz(shared_data):
    folder = os.path.join(shared_data, "nuscenes")
    name = next(f for f in sorted(os.listdir(folder)) if f.endswith(".bin"))
    points = np.fromfile(os.path.join(folder, name), dtype=np.float32).reshape(-1, 5)
    return torch.from_numpy(points[:, :3].copy())


def test_fps_on_kitti_sweeps_matches_reference(shared_data):
    clouds = [kitti_xyz(shared_data, f"00000{i}") for i in range(2)]
    lengths = torch.tensor([c.shape[0] for c in clouds])
    xyz = torch.zeros(2, int(lengths.max()), 3)
    for b, cloud in enumerate(clouds):
        xyz[b, : cloud.shape[0]] = cloud
    got = ops.farthest_point_sample(xyz, 256, lengths)
    want = ops.farthest_point_sample_reference(xyz, lengths, 256, torch.zeros(2, dtype=torch.long))
    assert torch.equal(got, want)
    single = ops.farthest_point_sample(clouds[0][None], 256)  # the multi-threaded path
    assert torch.equal(single, want[:1])


def test_knn_and_ball_query_on_nuscenes_sweep_match_reference(shared_data):
    xyz = nuscenes_xyz(shared_data)[None]
    g = torch.Generator().manual_seed(0)
    queries = xyz[:, torch.randperm(xyz.shape[1], generator=g)[:400]]
    full = torch.tensor([xyz.shape[1]])
    q = torch.tensor([400])
    dist, idx = ops.knn(queries, xyz, 32)
    want_dist, want_idx = ops.knn_reference(queries, xyz, q, full, 32)
    assert torch.equal(idx, want_idx) and torch.equal(dist, want_dist)
    got = ops.ball_query(queries, xyz, 0.8, 48)
    assert torch.equal(got, ops.ball_query_reference(queries, xyz, q, full, 0.8, 48))
