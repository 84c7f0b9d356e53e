"""Point-NN: a non-parametric point-cloud encoder (Zhang et al., CVPR 2023).

"Parameter is Not All You Need: Starting from Non-Parametric Networks for 3D Point Cloud
Analysis", section 3 and the official ``models/point_nn.py``. Every stage:

1. farthest point sampling picks ``G`` group centres (from index 0);
2. kNN takes the ``k`` nearest points of each centre (the centre itself included);
3. local geometry aggregation: neighbour features and coordinates are centred on the
   centre and divided by ``std + 1e-5``, where the official code takes **one unbiased std
   over the whole batch tensor** (so a shape's features depend on its batch); features are
   expanded by concatenating the centre's feature (C -> 2C); the normalised relative
   coordinates are encoded by PosE into 2C channels; and the weighted feature is
   ``(feature + PosE) * PosE``;
4. pooling over the k neighbours: max + mean, then the batch norm of an untrained network in
   eval mode (``x / sqrt(1 + 1e-5)``) and GELU.

The raw embedding is PosE of the input xyz; the global feature is max + mean over the
last stage's points. Defaults are the official ModelNet40 setting: 1024 points, 4 stages,
72 channels, k = 90, 512 -> 256 -> 128 -> 64 groups, giving 1152 channels.

Options, off by default: ``normalization="sample"`` takes the std per shape instead (a
shape's feature then does not depend on the rest of the batch); ``skip_origin_fps=True``
reproduces the official CUDA FPS, which never picks a candidate with squared norm
<= 1e-3 after the first pick (emulated exactly by moving those points onto the first
pick for the sampling only: their distance is then 0, so they are never the farthest).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geo3d import ops
from geo3d.nn.grouping import GroupingPlan, check_group_sizes, group, plan_groups
from geo3d.nn.positional import trig_positional_encoding

BN_EPS = 1e-5


class PointNNEncoder(nn.Module):
    """``xyz (B, N, 3) -> (B, embed_dim * 2 ** num_stages)``; no parameters.

    Args:
        num_stages: sampling stages (4).
        embed_dim: channels of the raw PosE embedding (72); doubled by every stage.
        k: neighbours per group (90).
        num_groups: group centres of the first stage (512), halved by each later stage.
        alpha, beta: PosE's base (1000) and magnitude (100).
        normalization: ``"batch"`` (official: one std over the batch) or ``"sample"``.
        skip_origin_fps: the official FPS rule for points within 1e-3 of the origin.
        fused: each stage in one pass (:func:`geo3d.ops.point_nn_aggregate`: no ``(B, G,
            K, C)`` tensor; equal to the plain formulation to float32 rounding). Inputs that
            need gradients always take the plain formulation (the fused op has no
            backward; Point-NN has no parameters to train).
    """

    def __init__(
        self,
        num_stages: int = 4,
        embed_dim: int = 72,
        k: int = 90,
        num_groups: int = 512,
        alpha: float = 1000.0,
        beta: float = 100.0,
        normalization: str = "batch",
        skip_origin_fps: bool = False,
        fused: bool = True,
    ):
        super().__init__()
        if embed_dim % 6:
            raise ValueError(f"'embed_dim' must be a multiple of 6 (got {embed_dim})")
        if normalization not in ("batch", "sample"):
            raise ValueError(f"'normalization' must be 'batch' or 'sample' (got {normalization!r})")
        if num_groups >> (num_stages - 1) < 1:
            raise ValueError(f"{num_stages} stages cannot halve {num_groups} groups each time")
        self.num_stages, self.embed_dim, self.k = num_stages, embed_dim, k
        self.groups = [num_groups >> stage for stage in range(num_stages)]
        self.alpha, self.beta, self.normalization = alpha, beta, normalization
        self.skip_origin_fps, self.fused = skip_origin_fps, fused
        self.out_dim = embed_dim * 2**num_stages

    def _std(self, values: torch.Tensor) -> torch.Tensor:
        """The official single unbiased std of the batch tensor, or one per shape."""
        if self.normalization == "batch":
            return values.std()
        return values.flatten(1).std(dim=1).view(-1, *([1] * (values.dim() - 1)))

    def stage(self, xyz, feats, centres, neighbours):
        """One stage: ``xyz (B, N, 3), feats (B, N, C)`` and the stage's indices from
        :func:`geo3d.nn.plan_groups` ``-> (B, G, 3), (B, G, 2C)``."""
        needs_grad = torch.is_grad_enabled() and (xyz.requires_grad or feats.requires_grad)
        if self.fused and not needs_grad:
            pooled = ops.point_nn_aggregate(
                xyz,
                feats,
                centres,
                neighbours,
                self.alpha,
                self.beta,
                per_cloud=self.normalization == "sample",
            )
            pooled = nn.functional.gelu(pooled / math.sqrt(1 + BN_EPS))
            return ops.gather_points(xyz, centres), pooled
        groups = group(xyz, feats, centres, neighbours)
        knn_feats = groups.neighbour_feats - groups.centre_feats.unsqueeze(2)  # (B, G, K, C)
        knn_feats = knn_feats / (self._std(knn_feats) + 1e-5)
        knn_xyz = groups.relative_xyz / (self._std(groups.relative_xyz) + 1e-5)
        centre = groups.centre_feats.unsqueeze(2)
        expanded = torch.cat([knn_feats, centre.expand_as(knn_feats)], dim=-1)  # (B, G, K, 2C)
        encoding = trig_positional_encoding(knn_xyz, expanded.shape[-1], self.alpha, self.beta)
        weighted = (expanded + encoding) * encoding
        pooled = weighted.amax(dim=2) + weighted.mean(dim=2)  # (B, G, 2C)
        pooled = nn.functional.gelu(pooled / math.sqrt(1 + BN_EPS))
        return groups.centre_xyz, pooled

    def grouping(self) -> GroupingPlan:
        """The index work of :meth:`forward` as a ``preprocess`` module."""
        return GroupingPlan(self.groups, self.k, self.skip_origin_fps)

    def forward(self, xyz: torch.Tensor, *indices: torch.Tensor) -> torch.Tensor:
        """``xyz (B, N, 3)`` and, optionally, :meth:`grouping`'s indices (computed here
        when not given) ``-> (B, out_dim)``."""
        xyz, feats = self.forward_stages(xyz, *indices)[-1]
        return feats.amax(dim=1) + feats.mean(dim=1)  # (B, out_dim)

    def forward_stages(self, xyz: torch.Tensor, *indices: torch.Tensor):
        """``[(xyz, feats)]`` of the raw embedding and of every stage: the multi-scale
        features a segmentation decoder (Point-NN's part segmentation) propagates back."""
        if xyz.dim() != 3 or xyz.shape[-1] != 3:
            raise ValueError(f"Expected 'xyz' of shape (B, N, 3) (got {tuple(xyz.shape)})")
        if not indices:
            check_group_sizes(xyz, self.groups[0], self.k)
            indices = plan_groups(xyz, self.groups, self.k, self.skip_origin_fps)
        if len(indices) != 2 * self.num_stages:
            raise ValueError(
                f"expected {2 * self.num_stages} index tensors (centres and neighbours per "
                f"stage), got {len(indices)}"
            )
        feats = trig_positional_encoding(xyz, self.embed_dim, self.alpha, self.beta)  # (B, N, 72)
        levels = [(xyz, feats)]
        for stage in range(self.num_stages):
            xyz, feats = self.stage(xyz, feats, *indices[2 * stage : 2 * stage + 2])
            levels.append((xyz, feats))
        return levels
