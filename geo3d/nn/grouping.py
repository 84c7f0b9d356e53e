"""Sample-and-group, the first half of every point stage (PointNet++, Point-NN, Point-PN):
farthest point sampling of group centres, the k nearest points of each centre, and their
coordinates relative to the centre."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from geo3d import ops


@dataclass(frozen=True)
class PointGroups:
    """``G`` groups of ``K`` neighbours per cloud.

    Attributes:
        centre_xyz: ``(B, G, 3)`` group centres.
        centre_feats: ``(B, G, C)`` the centres' features.
        relative_xyz: ``(B, G, K, 3)`` neighbour coordinates minus their centre's.
        neighbour_feats: ``(B, G, K, C)`` the neighbours' features (not centred).
    """

    centre_xyz: torch.Tensor
    centre_feats: torch.Tensor
    relative_xyz: torch.Tensor
    neighbour_feats: torch.Tensor

    def expanded_feats(self, centred: bool = False) -> torch.Tensor:
        """``(B, G, K, 2C)``: each neighbour's feature (minus the centre's if ``centred``)
        beside its centre's feature, as Point-NN and Point-PN expand them."""
        centre = self.centre_feats.unsqueeze(2)
        neighbours = self.neighbour_feats - centre if centred else self.neighbour_feats
        return torch.cat([neighbours, centre.expand_as(neighbours)], dim=-1)


def plan_groups(
    xyz: torch.Tensor, groups: list[int], k: int, skip_origin_fps: bool = False
) -> list[torch.Tensor]:
    """The index work of every stage, from coordinates alone: ``[centres (B, G_s) int64,
    neighbours (B, G_s, K) int64]`` per stage, flattened (stage 0's two, then stage 1's, ...).

    Stage ``s`` samples ``groups[s]`` centres of the previous stage's centres by FPS (from
    index 0) and takes the ``k`` nearest of those points around each centre, the centre
    itself included. This is data-dependent (FPS and kNN), so a model does it in
    ``preprocess`` and its core gathers with the indices: tensors in, tensors out.
    ``skip_origin_fps`` reproduces the official Point-NN CUDA FPS, which never picks a
    candidate within 1e-3 (squared norm) of the origin after the first pick (those points
    are moved onto the first pick for the sampling only: at distance 0 they are never the
    farthest).
    """
    indices = []
    for num_groups in groups:
        sample_xyz = xyz
        if skip_origin_fps:
            near_origin = (xyz * xyz).sum(-1, keepdim=True) <= 1e-3
            sample_xyz = torch.where(near_origin, xyz[:, :1], xyz).contiguous()
        centres = ops.farthest_point_sample(sample_xyz, num_groups)  # (B, G)
        centre_xyz = ops.gather_points(xyz, centres)  # (B, G, 3)
        _, neighbours = ops.knn(centre_xyz, xyz, k)  # (B, G, K)
        indices += [centres, neighbours]
        xyz = centre_xyz
    return indices


def group(
    xyz: torch.Tensor, feats: torch.Tensor, centres: torch.Tensor, neighbours: torch.Tensor
) -> PointGroups:
    """Gather one stage's groups with indices from :func:`plan_groups`."""
    centre_xyz = ops.gather_points(xyz, centres)  # (B, G, 3)
    relative_xyz = ops.gather_points(xyz, neighbours) - centre_xyz.unsqueeze(2)
    return PointGroups(
        centre_xyz,
        ops.gather_points(feats, centres),
        relative_xyz,
        ops.gather_points(feats, neighbours),
    )


def sample_and_group(
    xyz: torch.Tensor,
    feats: torch.Tensor,
    num_groups: int,
    k: int,
    skip_origin_fps: bool = False,
) -> PointGroups:
    """One stage at once: :func:`plan_groups` for ``num_groups`` centres of ``xyz (B, N, 3)``
    and ``k`` neighbours each, then :func:`group` of ``feats (B, N, C)``."""
    centres, neighbours = plan_groups(xyz, [num_groups], k, skip_origin_fps)
    return group(xyz, feats, centres, neighbours)


def check_group_sizes(points: torch.Tensor, num_groups: int, k: int) -> None:
    """Every cloud of ``points (B, N, C)`` must hold ``num_groups`` centres and ``k``
    neighbours."""
    needed = max(num_groups, k)
    if points.shape[1] < needed:
        raise ValueError(
            f"each cloud needs at least {needed} points for {num_groups} groups of {k} "
            f"neighbours (got {points.shape[1]})"
        )


class GroupingPlan(nn.Module):
    """The ``preprocess`` of a point model: ``points (B, N, C) -> (points, *indices)`` with
    :func:`plan_groups` of ``points[..., :3]`` (so the encoder after it is tensors in,
    tensors out)."""

    def __init__(self, groups: list[int], k: int, skip_origin_fps: bool = False):
        super().__init__()
        self.groups, self.k, self.skip_origin_fps = list(groups), k, skip_origin_fps

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if points.dim() != 3 or points.shape[-1] < 3:
            raise ValueError(f"Expected 'points' of shape (B, N, 3+) (got {tuple(points.shape)})")
        check_group_sizes(points, self.groups[0], self.k)
        xyz = points[..., :3].contiguous()
        return (points, *plan_groups(xyz, self.groups, self.k, self.skip_origin_fps))

    def extra_repr(self) -> str:
        return f"groups={self.groups}, k={self.k}, skip_origin_fps={self.skip_origin_fps}"
