"""The ``pooling`` suite of geo3d benchmark: SoftPool on grids against the plain formula,
attention pooling over packed voxels against the padded version."""

from __future__ import annotations

import torch

from geo3d.benchmarks.bench_timing import median_ms, saved_for_backward_mb


def plain_soft_pool(x: torch.Tensor, dims: int) -> torch.Tensor:
    """The plain-torch SoftPool formula (what users write; no max subtraction)."""
    avg = getattr(torch.nn.functional, f"avg_pool{dims}d")
    e = torch.exp(x)
    return avg(e * x, 2) / avg(e, 2)


def kitti_like_voxel_sets(num_voxels: int, channels: int, seed: int = 0):
    """Packed point features of voxels that hold 1 to 5 points, and a few that hold 100."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 6, (num_voxels,), generator=g)
    counts[torch.randperm(num_voxels, generator=g)[: num_voxels // 500]] = 100
    index = torch.repeat_interleave(torch.arange(num_voxels), counts)
    return torch.randn(index.shape[0], channels, generator=g), index, counts


def bench_pooling(repeats: int, quick: bool):
    """Rows of (what, size, method, forward ms, forward+backward ms, MB saved for backward)."""
    from geo3d.pooling import AttentionPool, soft_pool2d, soft_pool3d

    rows = []
    grids = [
        ("2D", (8, 64, 56, 56) if quick else (32, 64, 112, 112), 2),
        ("3D", (2, 16, 16, 64, 64) if quick else (4, 32, 40, 200, 176), 3),
    ]
    for name, shape, dims in grids:
        x = torch.randn(shape)
        native = soft_pool2d if dims == 2 else soft_pool3d
        for method, fn in (
            ("geo3d soft_pool", lambda t: native(t, 2)),
            ("plain torch formula", lambda t: plain_soft_pool(t, dims)),
        ):
            leaf = x.clone().requires_grad_()
            forward = median_ms(lambda: fn(x), repeats)
            both = median_ms(lambda: fn(leaf).sum().backward(), repeats)
            memory = saved_for_backward_mb(lambda: fn(leaf))
            rows.append(
                (f"SoftPool {name}", "x".join(map(str, shape)), method, forward, both, memory)
            )
    num_voxels, channels = (2000, 32) if quick else (20000, 64)
    points, index, counts = kitti_like_voxel_sets(num_voxels, channels)
    pool = AttentionPool(channels, heads=4, query="residual")
    width = int(counts.max())
    dense = torch.zeros(num_voxels, width, channels)
    mask = torch.arange(width)[None] < counts[:, None]
    dense[mask] = points
    size = f"{num_voxels} voxels, {points.shape[0]} points, max {width}"
    for method, fn, inputs in (
        ("geo3d packed segments", lambda t: pool.segments(t, index, num_voxels), points),
        ("padded dense + mask", lambda t: pool(t, mask), dense),
    ):
        leaf = inputs.clone().requires_grad_()
        with torch.no_grad():
            forward = median_ms(lambda: fn(inputs), repeats)
        both = median_ms(lambda: fn(leaf).sum().backward(), repeats)
        memory = saved_for_backward_mb(lambda: fn(leaf))
        rows.append(("attention pooling", size, method, forward, both, memory))
    return rows
