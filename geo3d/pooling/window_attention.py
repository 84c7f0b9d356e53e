"""DSVT's attention-style 3D pooling (Wang et al., CVPR 2023, section 3.3): the voxels of a
pooling window, placed in ``P`` slots, reduced to one voxel by attention."""

from __future__ import annotations

import torch
from torch import nn


class WindowAttentionPool(nn.Module):
    """``slots (W, P, C), occupied (W, P) -> (W, C)``.

    Per window: query = max over the slots; keys = slots + a learned embedding of each
    slot's position; values = slots; multi-head attention; output =
    ``LayerNorm(attention + query)`` (the official ``Stage_ReductionAtt_Block``).

    ``mask_empty=True`` (default) leaves the empty slots out of the max and of the
    attention. The official code fills them with zeros and attends to them (its max and
    softmax see the zeros); ``mask_empty=False`` reproduces that.
    """

    def __init__(self, channels: int, num_slots: int, heads: int = 8, mask_empty: bool = True):
        super().__init__()
        self.num_slots, self.mask_empty = num_slots, mask_empty
        self.slot_embedding = nn.Parameter(torch.zeros(num_slots, channels))
        nn.init.trunc_normal_(self.slot_embedding, std=0.02)
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
    """Voxels to pooling windows: ``coords (V, 4)`` int ``(batch, z, y, x)`` and ``window
    (wz, wy, wx)`` -> ``slots (W, wz * wy * wx)`` voxel ids (``-1`` where empty) and the
    windows' coordinates ``(W, 4)`` on the coarser grid. A voxel's slot is its position
    inside its window (DSVT's ``get_pooling_index``)."""
    if coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(f"Expected 'coords' of shape (V, 4) (got {tuple(coords.shape)})")
    wz, wy, wx = (int(w) for w in window)
    if min(wz, wy, wx) < 1:
        raise ValueError(f"'window' sizes must be >= 1 (got {window})")
    coords = coords.long()
    size = coords.new_tensor([1, wz, wy, wx])
    coarse = torch.div(coords, size, rounding_mode="floor")
    windows, index = torch.unique(coarse, dim=0, return_inverse=True)
    local = coords[:, 1:] - coarse[:, 1:] * size[1:]
    slot = (local[:, 0] * wy + local[:, 1]) * wx + local[:, 2]
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
