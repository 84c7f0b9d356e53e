"""Group and instance normalisation per segment of a packed tensor (per mesh, per cloud).

``nn.GroupNorm`` and ``nn.InstanceNorm`` normalise per sample of a padded batch; the
official MeshCNN pads every mesh to the largest edge count and its statistics include the
padding. Over packed segments, each mesh's statistics are its own.
"""

from __future__ import annotations

import torch
from torch import nn


def segment_group_norm(
    x: torch.Tensor,
    segment: torch.Tensor,
    num_segments: int,
    num_groups: int,
    eps: float = 1e-5,
) -> torch.Tensor:
    """``x (N, C)`` normalised per (segment, channel group): zero mean, unit (biased)
    variance over the group's channels and the segment's rows. ``segment (N,)`` int64."""
    rows, channels = x.shape
    if channels % num_groups:
        raise ValueError(f"{channels} channels do not split into {num_groups} groups")
    grouped = x.reshape(rows, num_groups, channels // num_groups)
    per_row_sum = grouped.sum(dim=2)  # (N, G)
    counts = torch.bincount(segment, minlength=num_segments).to(x.dtype)
    size = (counts * (channels // num_groups)).clamp(min=1)[:, None]  # (S, 1)
    mean = x.new_zeros(num_segments, num_groups).index_add(0, segment, per_row_sum) / size
    centred = grouped - mean[segment][:, :, None]
    var = (
        x.new_zeros(num_segments, num_groups).index_add(0, segment, centred.square().sum(dim=2))
        / size
    )
    return (centred * torch.rsqrt(var[segment] + eps)[:, :, None]).reshape(rows, channels)


class SegmentGroupNorm(nn.Module):
    """:func:`segment_group_norm` with a per-channel affine map (``nn.GroupNorm``'s).
    ``num_groups == num_channels`` and ``affine=False`` is ``nn.InstanceNorm``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"{num_channels} channels do not split into {num_groups} groups")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        self.weight = nn.Parameter(torch.ones(num_channels)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_channels)) if affine else None

    def forward(self, x: torch.Tensor, segment: torch.Tensor, num_segments: int) -> torch.Tensor:
        out = segment_group_norm(x, segment, num_segments, self.num_groups, self.eps)
        if self.weight is not None:
            out = out * self.weight + self.bias
        return out

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, affine={self.weight is not None}"
