"""Point-PN: Point-NN with a few learned linear layers (Zhang et al., CVPR 2023, section 4).

As the official ``models/point_pn.py`` computes it:

- raw embedding: a learned linear map of xyz (3 -> 36, no bias) + BatchNorm + ReLU (4 inputs
  on ScanObjectNN with the height);
- 4 stages of FPS (512, 256, 128, 64 groups) and kNN (k = 40, the centre included), with
  channels 36 -> 72 -> 144 -> 288 -> 288 (expansions 2, 2, 2, 1);
- local geometry aggregation per stage: neighbour coordinates centred on the group centre
  and divided by ``std + 1e-5`` with one std over the batch tensor (ModelNet40 variant;
  ``xyz_normalization="max"`` is the ScanObjectNN variant, each group scaled by its largest
  absolute offset per axis); features are *not* normalised; expansion by the centre's
  feature; a linear layer (+ BN + ReLU) to the stage's width; PosE with the sines and
  cosines in blocks (``layout="blocked"``), ``(feature + PosE) * PosE``; residual bottleneck
  blocks (2, 1, 1, 1 per stage) of two linear layers with BN;
- pooling: max + mean over the neighbours, BatchNorm, GELU; global max + mean. The
  neighbourhood pooling is any of `geo3d.pooling.POOLINGS` (option `pooling`; the paper's
  is `max+mean`);
- head (:class:`geo3d.heads.MLPHead`): 288 -> 512 -> 256 -> classes with BN, ReLU and
  dropout 0.5; :func:`geo3d.models.point_pn` puts the two together.

About 0.77 M parameters for 40 classes. Linear layers on channels-last tensors stand in for
the official 1x1 convolutions (the same maps, the same parameter counts).
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d import ops
from geo3d.nn.grouping import GroupingPlan
from geo3d.nn.mlp import LinearBNReLU, ResidualBottleneck  # noqa: F401  (their old home)
from geo3d.nn.positional import trig_positional_encoding
from geo3d.pooling.set_pool import SetPool


class PointPNStage(nn.Module):
    """FPS + kNN + local geometry aggregation + pooling: ``(B, N, 3), (B, N, C_in) ->
    (B, G, 3), (B, G, out_dim)``."""

    def __init__(
        self,
        in_dim,
        out_dim,
        num_groups,
        k,
        blocks,
        alpha,
        beta,
        xyz_normalization,
        pooling="max+mean",
    ):
        super().__init__()
        self.pool = SetPool(pooling, out_dim)
        self.num_groups, self.k = num_groups, k
        self.alpha, self.beta = alpha, beta
        self.xyz_normalization = xyz_normalization
        self.expand = LinearBNReLU(2 * in_dim, out_dim, bias=False)
        self.blocks = nn.Sequential(*[ResidualBottleneck(out_dim) for _ in range(blocks)])
        self.pool_norm = nn.BatchNorm1d(out_dim)

    def forward(self, xyz, feats, centres, neighbours):
        """``xyz (B, N, 3), feats (B, N, C_in)`` and the stage's indices from
        :func:`geo3d.nn.plan_groups`."""
        centre_xyz = ops.gather_points(xyz, centres)  # (B, G, 3)
        knn_xyz = ops.gather_points(xyz, neighbours) - centre_xyz.unsqueeze(2)  # (B, G, K, 3)
        if self.xyz_normalization == "std":
            knn_xyz = knn_xyz / (knn_xyz.std() + 1e-5)
        else:  # per group and axis, by the largest absolute offset (the ScanObjectNN variant)
            knn_xyz = knn_xyz / knn_xyz.abs().amax(dim=2, keepdim=True).clamp(min=1e-12)
        # the expansion [f_n, f_c] and its linear layer, per point before the gather
        x = self.expand.forward_grouped(feats, centres, neighbours)  # (B, G, K, out)
        encoding = trig_positional_encoding(
            knn_xyz, x.shape[-1], self.alpha, self.beta, layout="blocked"
        )
        x = self.blocks((x + encoding) * encoding)
        pooled = self.pool(x)  # (B, G, K, out) -> (B, G, out); max + mean in the paper
        pooled = self.pool_norm(pooled.reshape(-1, pooled.shape[-1])).reshape(pooled.shape)
        return centre_xyz, nn.functional.gelu(pooled)


class PointPNEncoder(nn.Module):
    """Point-PN's encoder: ``points (B, N, in_channels) -> (B, out_dim)`` global features.

    The first three input channels are the coordinates used for sampling and grouping;
    all ``in_channels`` feed the raw embedding.
    """

    def __init__(
        self,
        in_channels: int = 3,
        embed_dim: int = 36,
        k: int = 40,
        num_groups: int = 512,
        blocks: tuple[int, ...] = (2, 1, 1, 1),
        expansions: tuple[int, ...] = (2, 2, 2, 1),
        alpha: float = 1000.0,
        beta: float = 100.0,
        xyz_normalization: str = "std",
        pooling: str = "max+mean",
    ):
        super().__init__()
        if len(blocks) != len(expansions):
            raise ValueError("'blocks' and 'expansions' need one entry per stage")
        if xyz_normalization not in ("std", "max"):
            raise ValueError(
                f"'xyz_normalization' must be 'std' or 'max' (got {xyz_normalization!r})"
            )
        self.in_channels = in_channels
        self.embed = LinearBNReLU(in_channels, embed_dim, bias=False)
        stages, dim, groups = [], embed_dim, num_groups
        for stage_blocks, expansion in zip(blocks, expansions):
            if (dim * expansion) % 6:
                raise ValueError(f"stage width {dim * expansion} must be a multiple of 6 for PosE")
            stages.append(
                PointPNStage(
                    dim,
                    dim * expansion,
                    groups,
                    k,
                    stage_blocks,
                    alpha,
                    beta,
                    xyz_normalization,
                    pooling,
                )
            )
            dim, groups = dim * expansion, groups // 2
        self.stages = nn.ModuleList(stages)
        self.out_dim = dim

    def grouping(self) -> GroupingPlan:
        """The index work of :meth:`forward` as a ``preprocess`` module."""
        return GroupingPlan([stage.num_groups for stage in self.stages], self.stages[0].k)

    def forward(self, points: torch.Tensor, *indices: torch.Tensor) -> torch.Tensor:
        """``points (B, N, in_channels)`` and, optionally, :meth:`grouping`'s indices
        (computed here when not given) ``-> (B, out_dim)``."""
        if points.dim() != 3 or points.shape[-1] != self.in_channels:
            raise ValueError(
                f"Expected 'points' of shape (B, N, {self.in_channels}) (got {tuple(points.shape)})"
            )
        if not indices:
            indices = self.grouping()(points)[1:]
        if len(indices) != 2 * len(self.stages):
            raise ValueError(
                f"expected {2 * len(self.stages)} index tensors (centres and neighbours per "
                f"stage), got {len(indices)}"
            )
        xyz, feats = points[..., :3].contiguous(), self.embed(points)
        for i, stage in enumerate(self.stages):
            xyz, feats = stage(xyz, feats, *indices[2 * i : 2 * i + 2])
        return feats.amax(dim=1) + feats.mean(dim=1)  # (B, out_dim)
