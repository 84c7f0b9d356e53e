"""DSVT's attention-style 3D pooling (Wang et al., CVPR 2023, section 3.3): the voxels of a
pooling window, placed in ``P`` slots, reduced to one voxel by attention."""

from __future__ import annotations

import torch
from torch import nn

from geo3d.ops.windows import window_slots


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


def pool_voxel_windows(
    features: torch.Tensor, coords: torch.Tensor, window, pool: WindowAttentionPool
):
    """``features (V, C)`` of voxels at ``coords (V, 4)`` pooled per window by ``pool``:
    ``(pooled (W, C), window coords (W, 4))``."""
    slots, windows = window_slots(coords, window)
    occupied = slots >= 0
    gathered = features[slots.clamp(min=0)]  # (W, P, C)
    return pool(gathered, occupied), windows
