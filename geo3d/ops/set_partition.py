"""DSVT's dynamic set partition (Wang et al., CVPR 2023, section 3.1): the index work of its
set attention, done once per stage and shift in ``preprocess``.

Voxels go to windows of ``window = (wz, wy, wx)`` voxels after shifting their coordinates by
``shift``; windows are numbered per scene x-major on a grid of ``ceil(size / window) + 1``
windows per axis (one more for the shift), and the z shift is 0 where one window spans the
whole z range (OpenPCDet's ``get_window_coors``). A window of ``n`` voxels is cut into
``S = ceil(n / set_size)`` sets of ``set_size`` slots; slot ``t`` of set ``j`` holds the voxel
of rank ``floor((j * set_size + t) * n / (S * set_size))`` (float64, in this order of
operations, as ``get_set_single_shift``) in the window's order, so small windows repeat
voxels and every set is full. Each window is ordered twice, by ``(y, x, z)`` and by ``(x, y,
z)`` of the in-window coordinates: DSVT's rotated sets. A slot that repeats the previous
slot's voxel is masked (slot 0 never is).

The official code takes shapes as ``(x, y, z)``; here, as everywhere in geo3d, they are
``(z, y, x)`` like the coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from geo3d.ops._library import op, register_reference
from geo3d.ops.sparse_conv import check_coords, triple


@dataclass(frozen=True)
class SetPartition:
    """``sets (2, S, set_size)`` int64 voxel rows (order 0: by y, order 1: by x); ``masks
    (2, S, set_size)`` bool, True where a slot repeats the previous one; ``coords_in_window
    (V, 3)`` int32 ``(z, y, x)`` of each voxel inside its (shifted) window."""

    sets: torch.Tensor
    masks: torch.Tensor
    coords_in_window: torch.Tensor


def _window_numbers(coords, sparse_shape, window, shift):
    counts = [math.ceil(s / w) + 1 for s, w in zip(sparse_shape, window)]
    shift = list(shift)
    if sparse_shape[0] == window[0]:
        shift[0] = 0
    shifted = coords[:, 1:].long() + torch.tensor(shift, device=coords.device)
    size = torch.tensor(window, device=coords.device)
    cells, local = torch.div(shifted, size, rounding_mode="floor"), shifted % size
    per_scene = counts[0] * counts[1] * counts[2]
    number = (
        coords[:, 0].long() * per_scene
        + (cells[:, 2] * counts[1] + cells[:, 1]) * counts[0]
        + cells[:, 0]
    )
    return number, local


@register_reference("set_partition")
def set_partition_reference(coords, sparse_shape, window, shift, set_size):
    """See :func:`set_partition`: the official tensor formulation (sort by window and
    in-window order, ranks, the slot rule), in plain torch."""
    number, local = _window_numbers(coords, sparse_shape, window, shift)
    wz, wy, wx = window
    volume = wz * wy * wx
    orders = (
        (local[:, 1] * wx + local[:, 2]) * wz + local[:, 0],  # (y, x, z)
        (local[:, 2] * wy + local[:, 1]) * wz + local[:, 0],  # (x, y, z)
    )
    windows, inverse, voxels = torch.unique(number, return_inverse=True, return_counts=True)
    num_sets = torch.div(voxels + set_size - 1, set_size, rounding_mode="floor")
    first_set = torch.cumsum(num_sets, 0) - num_sets
    first_voxel = torch.cumsum(voxels, 0) - voxels
    set_window = torch.repeat_interleave(torch.arange(len(windows), device=coords.device), num_sets)
    j = torch.arange(len(set_window), device=coords.device) - first_set[set_window]
    slot_index = (j[:, None] * set_size + torch.arange(set_size, device=coords.device)).double()
    n = voxels[set_window].double()[:, None]
    slots = (num_sets[set_window] * set_size).double()[:, None]
    rank = torch.floor(slot_index * n / slots).long()
    sets = []
    for order in orders:
        key = inverse * volume + order
        sorted_key, by_order = torch.sort(key)
        if sorted_key.numel() > 1 and bool((sorted_key[1:] == sorted_key[:-1]).any()):
            raise ValueError("'coords' has the same voxel twice (coordinates must be unique)")
        sets.append(by_order[first_voxel[set_window][:, None] + rank])
    return torch.stack(sets), local.to(torch.int32)


@torch.library.register_fake("geo3d::set_partition")
def _set_partition_fake(coords, sparse_shape, window, shift, set_size):
    count = torch.library.get_ctx().new_dynamic_size()
    return coords.new_empty((2, count, set_size), dtype=torch.int64), coords.new_empty(
        (coords.shape[0], 3)
    )


def set_masks(sets: torch.Tensor) -> torch.Tensor:
    """``(..., set_size)`` bool: slots that repeat the previous slot's voxel."""
    first = torch.zeros(sets.shape[:-1] + (1,), dtype=torch.bool, device=sets.device)
    return torch.cat([first, sets[..., 1:] == sets[..., :-1]], dim=-1)


def set_partition(
    coords: torch.Tensor, sparse_shape, window, shift=(0, 0, 0), set_size: int = 36
) -> SetPartition:
    """DSVT's sets for ``coords (V, 4)`` int32 ``(batch, z, y, x)`` on ``sparse_shape (D, H,
    W)``, windows of ``window (wz, wy, wx)`` shifted by ``shift`` (module docstring)."""
    shape = triple("sparse_shape", list(sparse_shape))
    window = triple("window", window)
    shift = triple("shift", shift, 0)
    if any(s >= w for s, w in zip(shift, window)):
        raise ValueError(f"'shift' {shift} must be smaller than the window {window}")
    if not isinstance(set_size, int) or set_size < 1:
        raise ValueError(f"'set_size' must be a positive int (got {set_size!r})")
    check_coords("coords", coords, shape)
    sets, local = op("set_partition")(coords.contiguous(), shape, window, shift, set_size)
    return SetPartition(sets, set_masks(sets), local)
