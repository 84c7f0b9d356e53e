"""Held-out splits of data sets that ship without a validation split."""

from __future__ import annotations

import torch


def split_off_validation(dataset, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """``(kept, held)`` sorted index lists: a fixed random ``fraction`` of ``dataset`` (at
    least one sample) held out for validation, the rest kept for training."""
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must be in (0, 1) (got {fraction})")
    count = len(dataset)
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held = max(1, int(round(count * fraction)))
    return sorted(order[held:]), sorted(order[:held])
