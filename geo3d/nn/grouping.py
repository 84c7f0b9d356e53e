"""Sample-and-group, the first half of every point stage (PointNet++, Point-NN, Point-PN):
farthest point sampling of group centres, the k nearest points of each centre, and their
coordinates relative to the centre."""

from __future__ import annotations

from dataclasses import dataclass

import torch

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


def sample_and_group(
    xyz: torch.Tensor,
    feats: torch.Tensor,
    num_groups: int,
    k: int,
    sample_xyz: torch.Tensor | None = None,
) -> PointGroups:
    """FPS picks ``num_groups`` centres of ``xyz (B, N, 3)`` (from index 0), kNN takes the
    ``k`` nearest points of each (the centre itself included), and ``feats (B, N, C)`` are
    gathered for centres and neighbours. ``sample_xyz``: coordinates to sample from instead
    of ``xyz`` (grouping still uses ``xyz``)."""
    centres = ops.farthest_point_sample(xyz if sample_xyz is None else sample_xyz, num_groups)
    centre_xyz = ops.gather_points(xyz, centres)  # (B, G, 3)
    centre_feats = ops.gather_points(feats, centres)  # (B, G, C)
    _, neighbours = ops.knn(centre_xyz, xyz, k)  # (B, G, K)
    relative_xyz = ops.gather_points(xyz, neighbours) - centre_xyz.unsqueeze(2)
    return PointGroups(centre_xyz, centre_feats, relative_xyz, ops.gather_points(feats, neighbours))
