"""Unique rows of an integer tensor, fast: ``torch.unique(rows, dim=0)`` compares rows one
by one (measured 1.6 s of a 2.1 s PointPillars training step for 400k pillar keys on the
CPU); linearising each row into one int64 key and sorting those is the same result
(lexicographic order, the same inverse and counts) in a fraction of the time."""

from __future__ import annotations

import torch


def unique_rows(rows: torch.Tensor, return_inverse: bool = False, return_counts: bool = False):
    """``rows (N, D)`` integers -> ``unique (U, D)`` in lexicographic order, and optionally
    ``inverse (N,)`` int64 and ``counts (U,)`` int64, exactly as ``torch.unique(rows,
    dim=0, ...)`` returns them.

    Each column is shifted by its minimum and the rows are numbered in mixed radix (the
    column extents); where the product of the extents does not fit in int64 it falls back
    to ``torch.unique(dim=0)``.
    """
    if rows.dim() != 2:
        raise ValueError(f"Expected 'rows' of shape (N, D) (got {tuple(rows.shape)})")
    if rows.dtype.is_floating_point or rows.dtype == torch.bool or rows.is_complex():
        raise ValueError(f"'rows' must be an integer tensor (got {rows.dtype})")
    count, width = rows.shape
    if count == 0 or width == 0:
        return torch.unique(rows, dim=0, return_inverse=return_inverse, return_counts=return_counts)
    wide = rows.long()
    low = wide.min(dim=0).values
    extent = (wide.max(dim=0).values - low + 1).tolist()
    total = 1
    for size in extent:
        total *= size
    if total >= 2**63:
        return torch.unique(rows, dim=0, return_inverse=return_inverse, return_counts=return_counts)
    shifted = wide - low
    keys = shifted[:, 0].clone()
    for column in range(1, width):
        keys.mul_(extent[column]).add_(shifted[:, column])
    unique_keys, inverse, counts = torch.unique(keys, return_inverse=True, return_counts=True)
    unique = torch.empty((unique_keys.shape[0], width), dtype=torch.int64, device=rows.device)
    remainder = unique_keys
    for column in range(width - 1, -1, -1):
        unique[:, column] = remainder % extent[column]
        remainder = torch.div(remainder, extent[column], rounding_mode="floor")
    unique = (unique + low).to(rows.dtype)
    out = (unique,)
    if return_inverse:
        out += (inverse,)
    if return_counts:
        out += (counts,)
    return out[0] if len(out) == 1 else out
