"""Segment reductions without a scatter, exact for voxels of any size: the layout an exported
voxel encoder reads (gathers and reductions over padded axes, which ONNX runtimes and TensorRT
all import; a scatter with a reduction is refused or exported wrong).

Each voxel's points are cut into *rows* of at most ``width`` points; a reduction runs over the
``width`` slots of every row, then over the rows of every voxel. Max, sum and mean combine
exactly; a softmax-weighted sum (SoftPool, attention) carries each row's maximum, sum of
exponentials and weighted sum, and rescales them to the voxel's maximum (the merge of online
softmax), so the result is the same function as over all the voxel's points at once. The
work is ``O(P C)`` whatever the fullest voxel holds: one KITTI sweep has a 0.32 m pillar of
1,612 points, which a single padded row per voxel would multiply by 10,000 pillars.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# Slots per row: a voxel of n points takes ceil(n / 32) rows (PointPillars' hard cap: most
# pillars fit in one row).
ROW_WIDTH = 32


@dataclass
class SlotRows:
    """``row_slots (R, width)`` int64 point rows of each row, ``voxel_rows (V, K)`` int64 rows
    of each voxel; ``-1`` marks an empty slot. Tensors only: they are an exported core's
    inputs."""

    row_slots: torch.Tensor
    voxel_rows: torch.Tensor

    @property
    def point_mask(self) -> torch.Tensor:
        return self.row_slots >= 0

    @property
    def row_mask(self) -> torch.Tensor:
        return self.voxel_rows >= 0


def slot_rows(index: torch.Tensor, num_voxels: int, width: int = ROW_WIDTH) -> SlotRows:
    """Index work: ``index (P,)`` each point's voxel -> :class:`SlotRows`, points in input
    order within a voxel, rows in order within a voxel; ``R`` at least 1 and ``K`` at least
    1 so that every shape is non-empty."""
    if index.dim() != 1:
        raise ValueError(f"'index' must be (P,) (got shape {tuple(index.shape)})")
    if width < 1:
        raise ValueError(f"'width' must be >= 1 (got {width})")
    device = index.device
    counts = torch.bincount(index, minlength=num_voxels)
    rows_per_voxel = (counts + width - 1) // width  # (V,)
    num_rows = max(int(rows_per_voxel.sum()), 1)
    per_voxel = max(int(rows_per_voxel.max()) if num_voxels else 0, 1)
    order = torch.argsort(index, stable=True)
    voxel_of = index[order]
    rank = (
        torch.arange(order.shape[0], device=device) - (torch.cumsum(counts, 0) - counts)[voxel_of]
    )
    first_row = torch.cumsum(rows_per_voxel, 0) - rows_per_voxel  # (V,)
    row = first_row[voxel_of] + rank // width
    row_slots = torch.full((num_rows, width), -1, dtype=torch.long, device=device)
    row_slots[row, rank % width] = order
    voxel_rows = torch.full((num_voxels, per_voxel), -1, dtype=torch.long, device=device)
    voxels = torch.repeat_interleave(torch.arange(num_voxels, device=device), rows_per_voxel)
    within = torch.arange(voxels.shape[0], device=device) - first_row[voxels]
    voxel_rows[voxels, within] = torch.arange(voxels.shape[0], device=device)
    return SlotRows(row_slots, voxel_rows)


def gather_rows(values: torch.Tensor, slots: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """``values (N, *F)`` read through ``slots (..., T)`` -> ``(..., T, *F)``, ``fill`` in
    empty (``-1``) slots: a fill row is appended, so the gather has no negative index."""
    padding = torch.full((1, *values.shape[1:]), fill, dtype=values.dtype, device=values.device)
    table = torch.cat([values, padding])
    return table[torch.where(slots >= 0, slots, values.shape[0])]


def _masked(mask: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``mask (A, B)`` broadcast to ``like (A, B, *F)``."""
    return mask.reshape(*mask.shape, *([1] * (like.dim() - mask.dim())))


def _two_level(values: torch.Tensor, rows: SlotRows, reduce, fill: float) -> torch.Tensor:
    per_row = reduce(gather_rows(values, rows.row_slots, fill), rows.point_mask)
    return reduce(gather_rows(per_row, rows.voxel_rows, fill), rows.row_mask)


def rows_max(values: torch.Tensor, rows: SlotRows) -> torch.Tensor:
    """Per voxel max ``(V, *F)`` of ``values (P, *F)``; zeros for an empty voxel. Empty
    slots and rows are gathered as ``-inf``, so no mask pass is needed."""
    out = _two_level(values, rows, lambda x, m: x.amax(dim=1), float("-inf"))
    return torch.where(_masked(rows.row_mask.any(1), out), out, 0.0)


def rows_sum(values: torch.Tensor, rows: SlotRows) -> torch.Tensor:
    """Per voxel sum ``(V, *F)`` of ``values (P, *F)``."""
    return _two_level(values, rows, lambda x, m: x.sum(dim=1), 0.0)


def rows_count(rows: SlotRows, dtype=torch.float32) -> torch.Tensor:
    """Points per voxel ``(V,)``."""
    per_row = rows.point_mask.sum(1).to(dtype)
    return gather_rows(per_row, rows.voxel_rows).sum(1)


def rows_mean(values: torch.Tensor, rows: SlotRows) -> torch.Tensor:
    """Per voxel mean ``(V, *F)``; zeros for an empty voxel."""
    count = rows_count(rows, values.dtype).clamp(min=1)
    return rows_sum(values, rows) / count.reshape(-1, *([1] * (values.dim() - 1)))


def rows_softmax_sum(scores: torch.Tensor, values: torch.Tensor, rows: SlotRows) -> torch.Tensor:
    """Per voxel ``sum_i softmax(scores)_i * values_i`` over its points: ``scores (P, *S)``
    broadcastable against ``values (P, *F)`` -> ``(V, *F)``; zeros for an empty voxel. Each
    row keeps its maximum, sum of exponentials and weighted sum; the voxel rescales them to
    its own maximum (exact; no exponential overflows)."""
    point_mask = rows.point_mask
    s = gather_rows(scores, rows.row_slots)  # (R, T, *S)
    v = gather_rows(values, rows.row_slots)  # (R, T, *F)
    real = _masked(point_mask, s)
    row_peak = torch.where(real, s, float("-inf")).amax(dim=1)  # (R, *S)
    row_peak = torch.where(_masked(point_mask.any(1), row_peak), row_peak, 0.0)
    weights = torch.where(real, torch.exp(s - row_peak[:, None]), 0.0)
    row_total = weights.sum(dim=1)  # (R, *S)
    row_weighted = (weights * v).sum(dim=1)  # (R, *F)
    peaks = gather_rows(row_peak, rows.voxel_rows, float("-inf"))  # (V, K, *S)
    row_real = _masked(rows.row_mask, peaks)
    voxel_peak = torch.where(row_real, peaks, float("-inf")).amax(dim=1)
    any_row = _masked(rows.row_mask.any(1), voxel_peak)
    voxel_peak = torch.where(any_row, voxel_peak, 0.0)
    scale = torch.where(row_real, torch.exp(peaks - voxel_peak[:, None]), 0.0)  # (V, K, *S)
    total = (scale * gather_rows(row_total, rows.voxel_rows)).sum(dim=1)
    weighted = (scale * gather_rows(row_weighted, rows.voxel_rows)).sum(dim=1)
    out = weighted / total.clamp(min=torch.finfo(total.dtype).tiny)
    return torch.where(_masked(rows.row_mask.any(1), out), out, 0.0)
