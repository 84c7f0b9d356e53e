"""The ``sparse`` suite of geo3d benchmark: SECOND's sparse backbone (OpenPCDet's
``VoxelBackBone8x``) on KITTI voxels, geo3d's sparse convolution against spconv's.

Voxels: OpenPCDet's SECOND settings (0.05 x 0.05 x 0.1 m over [0, -40, -3, 70.4, 40, 1],
at most 5 points per voxel, mean features) on the shared KITTI frame 000000: the camera's
field of view (what OpenPCDet trains on) and the whole sweep. spconv runs its CPU forward
with one thread (with more its results are wrong; see :func:`geo3d.nn.spconv_interop.
spconv_cpu_call`) and, for reference, with all threads; its backward needs CUDA.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from geo3d.benchmarks.bench_timing import median_ms
from geo3d.paths import shared_data_dir

FRAME = os.path.join(shared_data_dir(), "kitti", "training")
VOXEL_SIZE = [0.05, 0.05, 0.1]
POINT_RANGE = [0.0, -40.0, -3.0, 70.4, 40.0, 1.0]


def kitti_voxel_sets(quick: bool) -> list[tuple[str, torch.Tensor]]:
    """``(name, points (N, 4))``: the field-of-view crop and the whole sweep of frame 000000
    (a seeded synthetic sweep where the shared data are absent)."""
    from geo3d.data.io.kitti import camera_field_of_view, read_image_shape, read_kitti_calibration

    path = os.path.join(FRAME, "velodyne", "000000.bin")
    if not os.path.isfile(path):
        from geo3d.data.synthetic import SyntheticLidar

        return [("synthetic sweep", SyntheticLidar("val", frames=1)[0]["points"])]
    points = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    calibration = read_kitti_calibration(os.path.join(FRAME, "calib", "000000.txt"))
    shape = read_image_shape(os.path.join(FRAME, "image_2", "000000.png"))
    seen = points[camera_field_of_view(points, calibration, shape)]
    sets = [("KITTI 000000, camera view", torch.from_numpy(seen))]
    if not quick:
        sets.append(("KITTI 000000, whole sweep", torch.from_numpy(points)))
    return sets


def mean_voxels(points: torch.Tensor, max_voxels: int = 40000):
    """Hard voxels with their mean point as features: ``(features (V, 4), indices (V, 4))``."""
    from geo3d.ops import voxelize

    voxels, coords, counts = voxelize(points, VOXEL_SIZE, POINT_RANGE, 5, max_voxels)
    features = voxels.sum(dim=1) / counts[:, None].clamp(min=1).to(voxels.dtype)
    batch = torch.zeros(len(coords), 1, dtype=torch.int32)
    return features, torch.cat([batch, coords.to(torch.int32)], dim=1)


def _set_backend(net, backend: str) -> None:
    for module in net.modules():
        if hasattr(module, "backend"):
            module.backend = backend


def _canonical(x):
    key = ((x.indices[:, 1].long() * 4096 + x.indices[:, 2]) * 4096) + x.indices[:, 3]
    order = key.argsort()
    return x.features[order].float().cpu(), x.indices[order].cpu()


def bench_sparse(repeats: int, quick: bool):
    """Rows of ``(voxel set, voxels, method, forward ms, forward + backward ms or None)``,
    and the largest difference between geo3d's and spconv's (one-thread) outputs."""
    from geo3d.encoders.sparse_backbone import SparseBackbone8x
    from geo3d.nn.sparse_conv import SparseConvTensor
    from geo3d.ops.voxelize import grid_size

    nx, ny, nz = grid_size(VOXEL_SIZE, POINT_RANGE)
    shape = [nz + 1, ny, nx]
    try:
        import spconv.pytorch  # noqa: F401

        has_spconv = True
    except ImportError:
        has_spconv = False
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows, largest_difference = [], 0.0
    for name, points in kitti_voxel_sets(quick):
        features, indices = mean_voxels(points)
        for device in devices:
            torch.manual_seed(0)
            net = SparseBackbone8x(4).to(device)
            f, i = features.to(device), indices.to(device)
            sync = device == "cuda"

            def tensor():
                return SparseConvTensor(f, i, shape, 1)

            def forward():
                with torch.no_grad():
                    return net(tensor())

            def training_step():
                net(tensor()).features.sum().backward()

            cached = tensor()
            with torch.no_grad():
                net.eval()
                net(cached)  # fills cached.indice_dict

            def features_only():
                with torch.no_grad():
                    return net(cached)

            net.eval()
            _set_backend(net, "geo3d")
            fwd = median_ms(forward, repeats, sync)
            rulebook = fwd - median_ms(features_only, repeats, sync)
            net.train()
            both = median_ms(training_step, repeats, sync)
            rows.append((name, len(i), f"geo3d {device}", fwd, both, rulebook))
            if not has_spconv:
                continue
            net.eval()
            ours = _canonical(forward())
            _set_backend(net, "spconv")
            if device == "cpu":
                rows.append(
                    (name, len(i), "spconv cpu, 1 thread", median_ms(forward, repeats), None, None)
                )
                theirs = _canonical(forward())
                threads = torch.get_num_threads()
                if threads > 1:
                    from geo3d.nn import spconv_interop

                    unsafe = spconv_interop.spconv_cpu_call
                    spconv_interop.spconv_cpu_call = lambda module, *args: module(*args)
                    try:
                        ms = median_ms(forward, repeats)
                    finally:
                        spconv_interop.spconv_cpu_call = unsafe
                    rows.append(
                        (name, len(i), f"spconv cpu, {threads} threads (wrong)", ms, None, None)
                    )
            else:
                fwd = median_ms(forward, repeats, True)
                net.train()
                both = median_ms(training_step, repeats, True)
                rows.append((name, len(i), "spconv cuda", fwd, both, None))
                net.eval()
                theirs = _canonical(forward())
            if torch.equal(ours[1], theirs[1]):
                largest_difference = max(
                    largest_difference, float((ours[0] - theirs[0]).abs().max())
                )
            else:
                largest_difference = float("inf")  # different active outputs
            _set_backend(net, "geo3d")
    return rows, largest_difference
