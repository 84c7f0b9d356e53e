"""SoftPoolNet's soft pooling of point features (Wang et al., ECCV 2020, section 3.1).

Per region ``r`` (by default each feature channel is a region, as in the paper), the points
are ranked by their activation in that region, descending, and the top ``N_p`` are kept:
``(B, N, C) -> (B, C, R, N_p)``, a feature tensor whose rank-0 column of region ``r = k`` is
max pooling of channel ``k``. Ranking uses ``topk``, not a full sort per channel.

:class:`SoftPoolNetPool` adds the regional convolutions of the official PyTorch code
(``pytorch/softpool.py``): the ranks are grouped into ``cabins`` (max per cabin), two
``1 x 3`` convolutions and one ``1 x (cabins - 4)`` convolution merge the cabins of each
region, and an ``R x 1`` convolution merges the regions into one global feature. The
official code creates those convolutions inside ``forward``, so their weights are drawn
anew at every call and never learned; here they are layers. ``sorter=True`` ranks by a
learned ``1 x 1`` projection to ``regions`` activations (the official PyTorch ``Sorter``)
instead of by the feature channels.
"""

from __future__ import annotations

import torch
from torch import nn


def soft_pool_features(
    x: torch.Tensor, num_points: int, scores: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``x (B, N, C)`` to ``(B, C, R, num_points)`` sorted features and their point indices
    ``(B, R, num_points)``; points are ranked per region by ``scores (B, N, R)`` (default:
    ``x`` itself, one region per channel), highest first."""
    if x.dim() != 3:
        raise ValueError(f"Expected 'x' of shape (B, N, C) (got {tuple(x.shape)})")
    scores = x if scores is None else scores
    if scores.shape[:2] != x.shape[:2]:
        raise ValueError(f"'scores' must be (B, {x.shape[1]}, R) (got {tuple(scores.shape)})")
    if not 1 <= num_points <= x.shape[1]:
        raise ValueError(f"'num_points' must be in [1, {x.shape[1]}] (got {num_points})")
    index = scores.transpose(1, 2).topk(num_points, dim=2, sorted=True).indices  # (B, R, Np)
    batch = torch.arange(x.shape[0], device=x.device)[:, None, None]
    gathered = x[batch, index]  # (B, R, Np, C)
    return gathered.permute(0, 3, 1, 2), index


class SoftPoolNetPool(nn.Module):
    """``x (B, N, C) -> (global (B, C), cube (B, C, R, N_p))`` (module docstring).

    Args:
        channels: ``C``.
        num_points: ``N_p``, points kept per region (a multiple of ``cabins``).
        regions: ``R`` (default ``C``: rank by each channel, as the paper).
        cabins: rank groups reduced by max before the regional convolutions (>= 5).
        sorter: rank by a learned projection to ``regions`` activations.
    """

    def __init__(
        self,
        channels: int,
        num_points: int,
        regions: int | None = None,
        cabins: int = 8,
        sorter: bool = False,
    ):
        super().__init__()
        regions = channels if regions is None else regions
        if cabins < 5 or num_points % cabins:
            raise ValueError(
                f"'num_points' ({num_points}) must split into 'cabins' >= 5 (got {cabins})"
            )
        if not sorter and regions != channels:
            raise ValueError(
                "without a sorter, each channel is a region: 'regions' must be 'channels'"
            )
        self.num_points, self.regions, self.cabins = num_points, regions, cabins
        self.sorter = nn.Linear(channels, regions) if sorter else None
        self.cabin_convs = nn.Sequential(
            nn.Conv2d(channels, channels, (1, 3)),
            nn.Conv2d(channels, channels, (1, 3)),
            nn.Conv2d(channels, channels, (1, cabins - 4)),
        )
        self.region_conv = nn.Conv2d(channels, channels, (regions, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = None if self.sorter is None else self.sorter(x)
        cube, _ = soft_pool_features(x, self.num_points, scores)  # (B, C, R, Np)
        batch, channels = cube.shape[:2]
        cabins = cube.reshape(batch, channels, self.regions, self.cabins, -1).amax(dim=-1)
        trains = self.cabin_convs(cabins)  # (B, C, R, 1)
        station = self.region_conv(trains)  # (B, C, 1, 1)
        return station.reshape(batch, channels), cube
