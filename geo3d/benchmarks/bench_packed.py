"""Packed-batch rows of geo3d benchmark's ``ops`` suite: FPS and kNN over LiDAR sweeps of
different sizes, concatenated with offsets (no padding), against the peers cloud by cloud."""

from __future__ import annotations

import torch

from geo3d import ops
from geo3d.benchmarks.bench_timing import median_ms

SWEEP_SIZES = (120_000, 95_000, 60_000, 20_000)


def packed_sweeps(sweep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefixes of one sweep's ``(N, 3)`` coordinates as four clouds, packed, and their ptr."""
    clouds = [sweep[:n, :3] for n in SWEEP_SIZES]
    return torch.cat(clouds).contiguous(), ops.ptr_from_lengths([c.shape[0] for c in clouds])


def bench_packed(repeats: int, sweep: torch.Tensor, peer, on_cuda) -> list[tuple]:
    """Rows ``(op, size, geo3d ms, {peer: ms}, cuda ms)``; ``peer(name)`` imports a peer or
    gives None, ``on_cuda(fn, tensors, repeats)`` times on the GPU or gives None."""
    fpsample, pykdtree = peer("fpsample"), peer("pykdtree.kdtree")
    xyz, ptr = packed_sweeps(sweep)
    arrays = [xyz[b:e].numpy() for b, e in zip(ptr[:-1].tolist(), ptr[1:].tolist())]
    size = " + ".join(f"{n // 1000}k" for n in SWEEP_SIZES)
    rows = []
    counts = torch.tensor([4096] * len(SWEEP_SIZES))
    fps_peers = {
        "fpsample (bucket)": median_ms(
            lambda: [fpsample.bucket_fps_kdline_sampling(a, 4096, h=7) for a in arrays], repeats
        )
        if fpsample
        else None
    }
    rows.append(
        (
            "fps packed",
            f"{size} -> 4 x 4096",
            median_ms(lambda: ops.farthest_point_sample_packed(xyz, ptr, counts), repeats),
            fps_peers,
            on_cuda(
                lambda x, p: ops.farthest_point_sample_packed(x, p, counts), [xyz, ptr], repeats
            ),
        )
    )
    samples, sample_ptr = ops.farthest_point_sample_packed(xyz, ptr, counts)
    query = xyz[samples]
    queries = [
        query[b:e].numpy() for b, e in zip(sample_ptr[:-1].tolist(), sample_ptr[1:].tolist())
    ]
    knn_peers = {
        "pykdtree": median_ms(
            lambda: [pykdtree.KDTree(a).query(q, k=16) for a, q in zip(arrays, queries)], repeats
        )
        if pykdtree
        else None
    }
    rows.append(
        (
            "knn packed",
            f"4 x 4096 in {size}, k=16",
            median_ms(lambda: ops.knn_packed(query, xyz, 16, sample_ptr, ptr), repeats),
            knn_peers,
            on_cuda(
                lambda q, s, qp, sp: ops.knn_packed(q, s, 16, qp, sp),
                [query, xyz, sample_ptr, ptr],
                repeats,
            ),
        )
    )
    return rows
