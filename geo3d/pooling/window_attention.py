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
