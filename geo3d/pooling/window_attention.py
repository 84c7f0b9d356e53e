"""DSVT's attention-style 3D pooling (Wang et al., CVPR 2023, section 3.3): the voxels of a
pooling window, placed in ``P`` slots, reduced to one voxel by attention."""

from __future__ import annotations

import torch
from torch import nn


class WindowAttentionPool(nn.Module):
    """``slots (W, P, C), occupied (W, P) -> (W, C)``.

    Per window: query = max over the slots; keys = slots + a learned embedding of each
    slot's position; values = slots; multi-head attention; output =
    ``LayerNorm(attention + query)`` (the official ``Stage_ReductionAtt_Block`` in
    OpenPCDet's ``dsvt.py``).

    By default this is the official behaviour: empty slots hold zeros, and the max and the
    attention see them (its key padding mask is all false), so official weights load and
    give the official outputs. The slot embedding is initialised from N(0, 0.01) as the
    official constructor does (the DSVT backbone's ``_reset_parameters`` later re-draws
    every matrix with Xavier; a backbone here decides that for itself).
    ``mask_empty=True`` leaves empty slots out of the max and of the attention instead (our
    option: a window's output then does not depend on how many of its slots are empty).
    """

    def __init__(self, channels: int, num_slots: int, heads: int = 8, mask_empty: bool = False):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        self.num_slots, self.mask_empty = num_slots, mask_empty
        self.slot_embedding = nn.Parameter(torch.zeros(num_slots, channels))
        nn.init.normal_(self.slot_embedding, std=0.01)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.norm = nn.LayerNorm(channels)

    def forward(self, slots: torch.Tensor, occupied: torch.Tensor) -> torch.Tensor:
        if slots.dim() != 3 or slots.shape[1] != self.num_slots:
            raise ValueError(
                f"Expected 'slots' of shape (W, {self.num_slots}, C) (got {tuple(slots.shape)})"
            )
        if occupied.shape != slots.shape[:2]:
            raise ValueError(
                f"'occupied' must be {tuple(slots.shape[:2])} (got {tuple(occupied.shape)})"
            )
        slots = torch.where(occupied[..., None], slots, 0.0)
        if self.mask_empty:
            lowest = torch.finfo(slots.dtype).min
            query = torch.where(occupied[..., None], slots, lowest).amax(dim=1)
            query = torch.where(occupied.any(dim=1, keepdim=True), query, 0.0)
            padding = ~occupied
            padding = padding & occupied.any(dim=1, keepdim=True)  # an empty window attends to all
        else:
            query = slots.amax(dim=1)
            padding = None
        keys = slots + self.slot_embedding
        attended, _ = self.attention(
            query[:, None], keys, slots, key_padding_mask=padding, need_weights=False
        )
        return self.norm(attended[:, 0] + query)


def window_slots(
    coords: torch.Tensor, window: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Voxels to pooling windows: ``coords (V, 4)`` integer ``(batch, z, y, x)`` and ``window
    (wz, wy, wx)`` -> ``slots (W, wz * wy * wx)`` voxel ids (``-1`` where empty) and the
    windows' coordinates ``(W, 4)`` on the coarser grid.

    A voxel's slot is its position inside its window, x-major as DSVT's
    ``get_pooling_index``: ``x * wy * wz + y * wz + z``, so official weights (whose slot
    embedding is indexed this way) load unpermuted. Coordinates must be integers, with no
    voxel twice (each slot holds one voxel).
    """
    if not isinstance(coords, torch.Tensor) or coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(
            f"Expected 'coords' of shape (V, 4) (got {tuple(getattr(coords, 'shape', ()))})"
        )
    if coords.dtype.is_floating_point or coords.dtype == torch.bool or coords.is_complex():
        raise ValueError(
            f"'coords' must be an integer tensor of voxel indices (got {coords.dtype}); "
            "float coordinates would be truncated"
        )
    if len(tuple(window)) != 3:
        raise ValueError(f"'window' must be 3 sizes (wz, wy, wx) (got {window})")
    wz, wy, wx = (int(w) for w in window)
    if min(wz, wy, wx) < 1:
        raise ValueError(f"'window' sizes must be >= 1 (got {window})")
    coords = coords.long()
    if coords.shape[0] and bool((coords < 0).any()):
        row = int((coords < 0).any(dim=1).nonzero()[0])
        raise ValueError(f"'coords' has a negative entry at row {row}: {coords[row].tolist()}")
    unique_voxels, counts = torch.unique(coords, dim=0, return_counts=True)
    if bool((counts > 1).any()):
        twice = unique_voxels[counts > 1]
        raise ValueError(
            f"'coords' lists {twice.shape[0]} voxel(s) more than once (first "
            f"{twice[0].tolist()}); each slot holds one voxel"
        )
    size = coords.new_tensor([1, wz, wy, wx])
    coarse = torch.div(coords, size, rounding_mode="floor")
    windows, index = torch.unique(coarse, dim=0, return_inverse=True)
    local = coords[:, 1:] - coarse[:, 1:] * size[1:]  # (V, 3) z, y, x inside the window
    slot = (local[:, 2] * wy + local[:, 1]) * wz + local[:, 0]  # x-major (official)
    slots = coords.new_full((windows.shape[0], wz * wy * wx), -1)
    slots[index, slot] = torch.arange(coords.shape[0], device=coords.device)
    return slots, windows


def pool_voxel_windows(
    features: torch.Tensor, coords: torch.Tensor, window, pool: WindowAttentionPool
):
    """``features (V, C)`` of voxels at ``coords (V, 4)`` pooled per window by ``pool``:
    ``(pooled (W, C), window coords (W, 4))``."""
    slots, windows = window_slots(coords, window)
    occupied = slots >= 0
    gathered = features[slots.clamp(min=0)]  # (W, P, C)
    return pool(gathered, occupied), windows
