"""Conversions between padded point batches ``(B, N, C) + lengths`` and packed ones
``(P, C) + batch``."""

from __future__ import annotations

import torch


def padded_to_packed(
    padded: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``padded (B, N, C), lengths (B,) -> packed (sum(lengths), C), batch (sum(lengths),)``.

    ``batch`` is each packed row's cloud index (int64), in cloud order then point order.
    """
    if padded.dim() != 3:
        raise ValueError(f"Expected 'padded' of shape (B, N, C) (got {tuple(padded.shape)})")
    lengths = torch.as_tensor(lengths, device=padded.device).to(torch.int64)
    if lengths.shape != (padded.shape[0],):
        raise ValueError(
            f"Expected 'lengths' of shape ({padded.shape[0]},) (got {tuple(lengths.shape)})"
        )
    if lengths.numel() and (int(lengths.min()) < 0 or int(lengths.max()) > padded.shape[1]):
        raise ValueError(f"'lengths' must lie in [0, {padded.shape[1]}]")
    valid = torch.arange(padded.shape[1], device=padded.device)[None, :] < lengths[:, None]
    batch = torch.arange(padded.shape[0], device=padded.device)[:, None].expand_as(valid)
    return padded[valid], batch[valid]


def packed_to_padded(
    packed: torch.Tensor, batch: torch.Tensor, num_clouds: int | None = None, fill: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``packed (P, C), batch (P,) -> padded (B, N_max, C), lengths (B,)``.

    ``batch`` must be sorted (rows of one cloud together, clouds in order), as
    :func:`padded_to_packed` and the collate functions produce it.
    """
    if packed.dim() != 2 or batch.dim() != 1 or batch.shape[0] != packed.shape[0]:
        raise ValueError(
            f"Expected 'packed' (P, C) and 'batch' (P,) (got {tuple(packed.shape)} and "
            f"{tuple(batch.shape)})"
        )
    ptr = batch_to_ptr(batch, num_clouds)
    lengths, starts = ptr.diff(), ptr[:-1]
    num_clouds = lengths.shape[0]
    position = torch.arange(packed.shape[0], device=packed.device) - starts[batch]
    width = int(lengths.max()) if lengths.numel() else 0
    padded = packed.new_full((num_clouds, width, packed.shape[1]), fill)
    padded[batch, position] = packed
    return padded, lengths


def batch_to_ptr(batch: torch.Tensor, num_clouds: int | None = None) -> torch.Tensor:
    """Sorted cloud indices ``batch (P,)`` to offsets ``ptr (B + 1,)``: cloud b is rows
    ``ptr[b]:ptr[b + 1]`` (PyG's ``ptr``)."""
    if batch.numel() and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("'batch' must be sorted (the rows of each cloud together, in cloud order)")
    if num_clouds is None:
        num_clouds = int(batch.max()) + 1 if batch.numel() else 0
    counts = torch.bincount(batch, minlength=num_clouds)
    if counts.shape[0] != num_clouds:
        raise ValueError(f"'batch' names clouds past num_clouds={num_clouds}")
    return counts_to_ptr(counts)


def ptr_to_batch(ptr: torch.Tensor) -> torch.Tensor:
    """Offsets ``ptr (B + 1,)`` to the cloud index of every row ``(ptr[-1],)``."""
    if ptr.dim() != 1 or ptr.numel() == 0 or int(ptr[0]) != 0 or bool((ptr[1:] < ptr[:-1]).any()):
        raise ValueError("'ptr' must be non-decreasing offsets starting at 0")
    return torch.repeat_interleave(torch.arange(ptr.numel() - 1, device=ptr.device), ptr.diff())


def counts_to_ptr(counts) -> torch.Tensor:
    """Row counts ``(B,)`` (a tensor or a list) to offsets ``ptr (B + 1,)`` int64."""
    counts = torch.as_tensor(counts, dtype=torch.int64)
    return torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])


def cat_shifted(indices: list[torch.Tensor], offsets: torch.Tensor) -> torch.Tensor:
    """Pack index tensors of several items into one: item ``i``'s indices shifted by
    ``offsets[i]`` (so that they point into the packed rows), ``-1`` (none) kept."""
    return torch.cat([torch.where(t >= 0, t + offsets[i], t) for i, t in enumerate(indices)])
