"""Farthest point sampling and kNN on packed batches: clouds of different sizes
concatenated into one ``(P, 3)`` tensor with offsets ``ptr (B + 1,)``, no padding.

Cloud ``b`` is ``points[ptr[b]:ptr[b + 1]]`` (the CSR layout of PyTorch Geometric's
``ptr`` and of OpenPCDet's "stack" ops). Outputs index the packed tensor, so
``support[idx]`` gathers directly; the padded ops (:func:`geo3d.ops.knn`,
:func:`geo3d.ops.farthest_point_sample`) compute the same neighbours and samples.
"""

from __future__ import annotations

import math

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference
from geo3d.ops.neighbors import knn_reference
from geo3d.ops.sampling import farthest_point_sample_reference, resolve_start_idx


def ptr_from_lengths(lengths: torch.Tensor | list[int]) -> torch.Tensor:
    """``(B,)`` cloud sizes -> ``(B + 1,)`` int64 offsets ``[0, n0, n0 + n1, ...]``."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    return torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])


def ptr_from_batch(batch: torch.Tensor, num_clouds: int | None = None) -> torch.Tensor:
    """A sorted ``(P,)`` cloud index per point (PyG's ``batch``) -> ``(B + 1,)`` offsets."""
    if batch.dim() != 1 or batch.dtype.is_floating_point:
        raise ValueError(
            f"Expected 'batch' to be a 1-D integer tensor (got {batch.dtype}, "
            f"shape {tuple(batch.shape)})"
        )
    if batch.numel() and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("'batch' must be sorted (points of one cloud contiguous)")
    count = num_clouds if num_clouds is not None else int(batch.max()) + 1 if batch.numel() else 0
    return ptr_from_lengths(torch.bincount(batch.long(), minlength=count).cpu()).to(batch.device)


def _check_packed(name: str, points: torch.Tensor, ptr_name: str, ptr) -> torch.Tensor:
    """``points (P, 3)`` float, ``ptr (B + 1,)`` valid offsets -> ptr as int64 on the device."""
    if not isinstance(points, torch.Tensor):
        raise TypeError(f"Expected '{name}' to be a torch.Tensor (got {type(points).__name__})")
    if points.dim() != 2 or points.shape[1] != 3:
        raise ValueError(
            f"Expected '{name}' of shape (P, 3) (packed clouds; got {tuple(points.shape)})"
        )
    if points.dtype not in _checks.FLOAT_DTYPES:
        raise ValueError(f"Expected '{name}' to be float32 or float64 (got {points.dtype})")
    ptr = torch.as_tensor(ptr, device=points.device)
    if ptr.dim() != 1 or ptr.shape[0] < 2:
        raise ValueError(
            f"Expected '{ptr_name}' of shape (B + 1,) with B >= 1 (got {tuple(ptr.shape)})"
        )
    if ptr.dtype.is_floating_point or ptr.dtype == torch.bool:
        raise ValueError(f"Expected '{ptr_name}' to be an integer tensor (got {ptr.dtype})")
    ptr = ptr.to(torch.int64).contiguous()
    if not _checks.tracing():
        values = ptr.tolist()
        if values[0] != 0:
            raise ValueError(f"'{ptr_name}'[0] must be 0 (got {values[0]})")
        drops = [b for b in range(len(values) - 1) if values[b + 1] < values[b]]
        if drops:
            b = drops[0]
            raise ValueError(
                f"'{ptr_name}' must be non-decreasing ('{ptr_name}'[{b + 1}] = {values[b + 1]} "
                f"< {values[b]})"
            )
        if values[-1] != points.shape[0]:
            raise ValueError(
                f"'{ptr_name}'[-1] = {values[-1]} but '{name}' has {points.shape[0]} points"
            )
    _checks.check_finite(name, points)
    return ptr


def _to_padded(points: torch.Tensor, ptr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed ``(P, 3)`` -> padded ``(B, N, 3)`` and lengths ``(B,)`` (references only)."""
    lengths = ptr[1:] - ptr[:-1]
    size = int(lengths.max()) if lengths.numel() else 0
    padded = points.new_zeros((lengths.shape[0], size, 3))
    for b, (begin, end) in enumerate(zip(ptr[:-1].tolist(), ptr[1:].tolist())):
        padded[b, : end - begin] = points[begin:end]
    return padded, lengths


@register_reference("knn_packed")
def knn_packed_reference(query, support, query_ptr, support_ptr, k):
    """The padded reference on padded copies, rows packed back; see :func:`knn_packed`."""
    padded_query, query_lengths = _to_padded(query, query_ptr)
    padded_support, support_lengths = _to_padded(support, support_ptr)
    dist, idx = knn_reference(padded_query, padded_support, query_lengths, support_lengths, k)
    idx = torch.where(idx >= 0, idx + support_ptr[:-1, None, None], idx)
    rows = [slice(0, int(n)) for n in query_lengths]
    dist = torch.cat([dist[b, r] for b, r in enumerate(rows)]) if rows else dist.reshape(0, k)
    idx = torch.cat([idx[b, r] for b, r in enumerate(rows)]) if rows else idx.reshape(0, k)
    return dist.reshape(-1, k).contiguous(), idx.reshape(-1, k).contiguous()


@torch.library.register_fake("geo3d::knn_packed")
def _knn_packed_fake(query, support, query_ptr, support_ptr, k):
    return query.new_empty((query.shape[0], k)), query.new_empty(
        (query.shape[0], k), dtype=torch.int64
    )


def knn_packed(
    query: torch.Tensor,
    support: torch.Tensor,
    k: int,
    query_ptr: torch.Tensor,
    support_ptr: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours of each query cloud in its support cloud, packed.

    Args:
        query: (Q, 3) float32/float64, the query clouds one after another.
        support: (P, 3) of the same dtype and device.
        k: number of neighbours, >= 1; may exceed a cloud's size.
        query_ptr, support_ptr: (B + 1,) int offsets of the clouds (same B).

    Returns:
        ``dist2 (Q, k)`` ascending squared distances and ``idx (Q, k)`` int64 rows of
        ``support`` (not local to the cloud); ties go to the lower index; slots past a
        support cloud's size hold ``inf`` and ``-1``. Equal to :func:`geo3d.ops.knn` on
        the padded batch with ``support_ptr[b]`` added to the indices.
    """
    _checks.check_positive_int("k", k)
    query_ptr = _check_packed("query", query, "query_ptr", query_ptr)
    support_ptr = _check_packed("support", support, "support_ptr", support_ptr)
    _checks.check_same_device_dtype("query", query, "support", support)
    if query_ptr.shape[0] != support_ptr.shape[0]:
        raise ValueError(
            f"'query_ptr' and 'support_ptr' describe different numbers of clouds "
            f"({query_ptr.shape[0] - 1} and {support_ptr.shape[0] - 1})"
        )
    return op("knn_packed")(query.contiguous(), support.contiguous(), query_ptr, support_ptr, k)


@register_reference("farthest_point_sample_packed")
def farthest_point_sample_packed_reference(xyz, ptr, sample_ptr, num_total, start_idx):
    """The padded reference per cloud; see :func:`farthest_point_sample_packed`."""
    out = []
    for b in range(ptr.shape[0] - 1):
        begin, end = int(ptr[b]), int(ptr[b + 1])
        count = int(sample_ptr[b + 1] - sample_ptr[b])
        if count == 0:
            continue
        cloud = xyz[begin:end].unsqueeze(0)
        lengths = torch.full((1,), end - begin, dtype=torch.int64, device=xyz.device)
        idx = farthest_point_sample_reference(cloud, lengths, count, start_idx[b : b + 1])
        out.append(idx[0] + begin)
    return torch.cat(out) if out else xyz.new_empty((0,), dtype=torch.int64)


@torch.library.register_fake("geo3d::farthest_point_sample_packed")
def _fps_packed_fake(xyz, ptr, sample_ptr, num_total, start_idx):
    return xyz.new_empty((num_total,), dtype=torch.int64)


def sample_counts(
    sizes: torch.Tensor, num_samples: int | torch.Tensor | None, ratio: float | None
) -> torch.Tensor:
    """Samples per cloud of ``sizes (B,)`` (on the host), as ``(B,)`` int64: ``num_samples``
    (an int or ``(B,)``), or ``ceil(ratio * size)`` (PyTorch Geometric's ``fps(ratio=...)``),
    never more than a cloud's size; an explicit count above it is an error naming the cloud."""
    if (num_samples is None) == (ratio is None):
        raise ValueError("Give exactly one of 'num_samples' and 'ratio'")
    if ratio is not None:
        ratio = float(ratio)
        if not 0 < ratio <= 1:
            raise ValueError(f"'ratio' must lie in (0, 1] (got {ratio})")
        return torch.tensor([math.ceil(ratio * int(n)) for n in sizes], dtype=torch.int64)
    if isinstance(num_samples, torch.Tensor):
        counts = num_samples.detach().to("cpu", torch.int64).reshape(-1)
        if counts.numel() == 1:
            counts = counts.expand(sizes.shape[0])
    else:
        _checks.check_positive_int("num_samples", num_samples)
        counts = torch.full_like(sizes, num_samples)
    if counts.shape != sizes.shape:
        raise ValueError(
            f"Expected 'num_samples' to be an int or of shape ({sizes.shape[0]},) "
            f"(got {tuple(counts.shape)})"
        )
    over = (counts > sizes) | (counts < 0)
    if bool(over.any()):
        b = int(over.nonzero()[0, 0])
        raise ValueError(
            f"cloud {b} has {int(sizes[b])} points, cannot sample {int(counts[b])} of them "
            "(pass 'ratio', or per-cloud 'num_samples')"
        )
    return counts.contiguous()


def farthest_point_sample_packed(
    xyz: torch.Tensor,
    ptr: torch.Tensor,
    num_samples: int | torch.Tensor | None = None,
    *,
    ratio: float | None = None,
    start_idx: int | torch.Tensor = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact farthest point sampling of every cloud of a packed batch.

    Each cloud is sampled as :func:`geo3d.ops.farthest_point_sample` samples it (same
    kernel, same tie rule), without padding to the largest cloud.

    Args:
        xyz: (P, 3) float32/float64 points of all clouds, one after another.
        ptr: (B + 1,) int offsets; cloud b is ``xyz[ptr[b]:ptr[b + 1]]``.
        num_samples: samples per cloud, an int or a ``(B,)`` tensor, at most each size.
        ratio: instead of ``num_samples``: ``ceil(ratio * size)`` samples per cloud.
        start_idx: int or (B,) tensor, the first sample of each cloud (local index).

    Returns:
        ``idx (M,)`` int64 rows of ``xyz`` in selection order, cloud after cloud, and
        ``sample_ptr (B + 1,)`` their offsets (cloud b's samples are
        ``idx[sample_ptr[b]:sample_ptr[b + 1]]``).
    """
    ptr = _check_packed("xyz", xyz, "ptr", ptr)
    sizes = (ptr[1:] - ptr[:-1]).cpu()
    counts = sample_counts(sizes, num_samples, ratio)
    start = resolve_start_idx(start_idx, sizes.shape[0], xyz.device)
    bad = ((start.cpu() < 0) | (start.cpu() >= sizes)) & (sizes > 0)
    if bool(bad.any()):
        b = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"'start_idx' {int(start[b])} is outside cloud {b} of {int(sizes[b])} points"
        )
    sample_ptr = ptr_from_lengths(counts)
    num_total = int(sample_ptr[-1])
    idx = op("farthest_point_sample_packed")(
        xyz.contiguous(), ptr, sample_ptr.to(xyz.device), num_total, start.contiguous()
    )
    return idx, sample_ptr.to(xyz.device)
