"""MeshCNN's networks (Hanocka et al., SIGGRAPH 2019; the official ``models/networks.py``):
the classification encoder (``MeshConvNet``) and the segmentation encoder-decoder
(``MeshEncoderDecoder``, "meshunet"), on packed batches of meshes.

Differences from the official code, on purpose: features are packed, not padded to
``ninput_edges``, so batch, group and instance statistics see only real edges; a pooling
target may be a fraction of each mesh's edges; unpooling averages over the surviving
groups (:func:`geo3d.pooling.mesh_unpool`).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from geo3d.nn import MeshConv, SegmentGroupNorm
from geo3d.ops import scatter
from geo3d.pooling import MeshPool, MeshUnpool
from geo3d.structures.mesh_batch import MeshBatch

NORMS = ("batch", "group", "none")


def official_init(module: nn.Module, gain: float = 0.02) -> None:
    """The official ``init_weights(init_type="normal", init_gain=0.02)``: convolution and
    linear weights from ``N(0, gain)``, batch-norm weights from ``N(1, gain)`` and biases 0;
    other parameters keep their defaults."""
    for m in module.modules():
        if isinstance(m, MeshConv | nn.Linear):
            nn.init.normal_(m.weight, 0.0, gain)
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


class _EdgeNorm(nn.Module):
    """``batch`` (over all edges of the batch), ``group`` (per mesh) or ``none``."""

    def __init__(self, kind: str, channels: int, norm_groups: int = 16):
        super().__init__()
        if kind not in NORMS:
            raise ValueError(f"'norm' must be one of {NORMS} (got {kind!r})")
        self.kind = kind
        if kind == "batch":
            self.norm = nn.BatchNorm1d(channels)
        elif kind == "group":
            self.norm = SegmentGroupNorm(min(norm_groups, channels), channels)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        if self.kind == "batch":
            return self.norm(x)
        if self.kind == "group":
            return self.norm(x, mesh.edge_batch(), mesh.num_meshes)
        return x


class MResConv(nn.Module):
    """The classifier's residual block: a bias-free MeshConv, then ``skips`` times
    ReLU, BatchNorm and MeshConv, added back to the first output, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, skips: int = 1):
        super().__init__()
        self.conv0 = MeshConv(in_channels, out_channels, bias=False)
        self.norms = nn.ModuleList(nn.BatchNorm1d(out_channels) for _ in range(skips))
        self.convs = nn.ModuleList(
            MeshConv(out_channels, out_channels, bias=False) for _ in range(skips)
        )

    def forward(self, x: torch.Tensor, gemm: torch.Tensor) -> torch.Tensor:
        x = self.conv0(x, gemm)
        first = x
        for norm, conv in zip(self.norms, self.convs):
            x = conv(norm(torch.relu(x)), gemm)
        return torch.relu(x + first)


class MeshCNNEncoder(nn.Module):
    """``(features (E, C_in), mesh) -> (B, channels[-1])``: per stage a residual MeshConv
    block, a norm, ReLU and a pooling to ``pool_targets[i]``, then the mean over each mesh's
    remaining edges (the official ``AvgPool1d(pool_res[-1])``).

    Defaults are the official SHREC settings: channels 64, 128, 256, 256; targets 600, 450,
    300, 180; group norm with 16 groups; one residual block per stage; the official
    collapse rules (``pool_variant="exact"`` for geo3d's current-one-ring rules,
    :mod:`geo3d.pooling.edge_collapse`).
    """

    def __init__(
        self,
        in_channels: int = 5,
        channels: tuple[int, ...] = (64, 128, 256, 256),
        pool_targets: tuple[int | float, ...] = (600, 450, 300, 180),
        norm: str = "group",
        norm_groups: int = 16,
        resblocks: int = 1,
        pool_variant: str = "official",
        num_groups: int | None = None,
    ):
        super().__init__()
        if num_groups is not None:  # the older name, which Point-NN uses for FPS groups
            warnings.warn(
                "MeshCNNEncoder's 'num_groups' (group-norm groups) is 'norm_groups' now; "
                "the old name goes in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            norm_groups = num_groups
        if len(channels) != len(pool_targets):
            raise ValueError(
                f"one pooling target per stage: {len(channels)} channels, {len(pool_targets)} "
                "targets"
            )
        widths = (in_channels, *channels)
        self.convs = nn.ModuleList(
            MResConv(widths[i], widths[i + 1], resblocks) for i in range(len(channels))
        )
        self.norms = nn.ModuleList(_EdgeNorm(norm, c, norm_groups) for c in channels)
        self.pools = nn.ModuleList(MeshPool(t, pool_variant) for t in pool_targets)
        self.out_dim = widths[-1]

    def stages(self, x: torch.Tensor, mesh: MeshBatch) -> list[tuple[torch.Tensor, MeshBatch]]:
        """The features and mesh after each pooling (for display and inspection)."""
        out = []
        for conv, norm, pool in zip(self.convs, self.norms, self.pools):
            x = torch.relu(norm(conv(x, mesh.gemm), mesh))
            x, mesh, _ = pool(x, mesh)
            out.append((x, mesh))
        return out

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        x, mesh = self.stages(x, mesh)[-1]
        return scatter(x, mesh.edge_batch(), mesh.num_meshes, "mean")


def _instance_norms(channels: int, count: int) -> nn.ModuleList:
    """Per-mesh instance norms without affine maps (the official ``InstanceNorm2d``)."""
    return nn.ModuleList(SegmentGroupNorm(channels, channels, affine=False) for _ in range(count))


class DownConv(nn.Module):
    """Encoder stage of the segmenter: MeshConv, instance norm, ReLU, then ``blocks``
    residual MeshConv + instance norm blocks; returns ``(x, x before pooling)``."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int = 0):
        super().__init__()
        self.conv1 = MeshConv(in_channels, out_channels)
        self.convs = nn.ModuleList(MeshConv(out_channels, out_channels) for _ in range(blocks))
        self.norms = _instance_norms(out_channels, blocks + 1)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        batch, count = mesh.edge_batch(), mesh.num_meshes
        x1 = torch.relu(self.norms[0](self.conv1(x, mesh.gemm), batch, count))
        for conv, norm in zip(self.convs, self.norms[1:]):
            x1 = torch.relu(norm(conv(x1, mesh.gemm), batch, count) + x1)
        return x1


class UpConv(nn.Module):
    """Decoder stage: MeshConv on the coarse mesh, unpooling, concatenation with the
    encoder's features before that pooling, MeshConv, instance norm, ReLU and ``blocks``
    residual blocks. The last stage (``unpool=False``) has no skip input."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int = 0, unpool: bool = True):
        super().__init__()
        self.up_conv = MeshConv(in_channels, out_channels)
        self.unpool = MeshUnpool() if unpool else None
        self.conv1 = MeshConv(2 * out_channels if unpool else out_channels, out_channels)
        self.convs = nn.ModuleList(MeshConv(out_channels, out_channels) for _ in range(blocks))
        self.norms = _instance_norms(out_channels, blocks + 1)

    def forward(self, x, coarse: MeshBatch, fine: MeshBatch, record=None, skip=None):
        x = self.up_conv(x, coarse.gemm)
        if self.unpool is not None:
            x = torch.cat([self.unpool(x, record), skip], dim=1)
        batch, count = fine.edge_batch(), fine.num_meshes
        x1 = torch.relu(self.norms[0](self.conv1(x, fine.gemm), batch, count))
        for conv, norm in zip(self.convs, self.norms[1:]):
            x1 = torch.relu(norm(conv(x1, fine.gemm), batch, count) + x1)
        return x1


class MeshUNetEncoder(nn.Module):
    """``(features (E, C_in), mesh) -> (features (E, channels[0]), mesh)``: the official
    "meshunet" without its last stage (that stage is :class:`MeshSegmentationHead`).

    Encoder stages of ``channels`` with a pooling after every stage but the last, and a
    decoder that mirrors it with unpooling and skip connections back to the input mesh.
    Defaults: the official COSEG / human-body settings (channels 32, 64, 128, 256; targets
    1800, 1350, 600; 3 residual blocks; the official collapse rules, ``pool_variant=
    "exact"`` for geo3d's).
    """

    def __init__(
        self,
        in_channels: int = 5,
        channels: tuple[int, ...] = (32, 64, 128, 256),
        pool_targets: tuple[int | float, ...] = (1800, 1350, 600),
        resblocks: int = 3,
        pool_variant: str = "official",
    ):
        super().__init__()
        if len(pool_targets) != len(channels) - 1:
            raise ValueError(
                f"the segmenter pools between stages: {len(channels)} channels need "
                f"{len(channels) - 1} targets (got {len(pool_targets)})"
            )
        widths = (in_channels, *channels)
        self.down = nn.ModuleList(
            DownConv(widths[i], widths[i + 1], resblocks) for i in range(len(channels))
        )
        self.pools = nn.ModuleList(MeshPool(t, pool_variant) for t in pool_targets)
        rev = channels[::-1]
        self.up = nn.ModuleList(
            UpConv(rev[i], rev[i + 1], resblocks) for i in range(len(channels) - 1)
        )
        self.out_dim = channels[0]

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> tuple[torch.Tensor, MeshBatch]:
        meshes, skips, records = [mesh], [], []
        for i, down in enumerate(self.down):
            x = down(x, meshes[-1])
            if i < len(self.pools):
                skips.append(x)
                x, pooled, record = self.pools[i](x, meshes[-1])
                meshes.append(pooled)
                records.append(record)
        for i, up in enumerate(self.up):
            level = len(records) - 1 - i
            x = up(x, meshes[level + 1], meshes[level], records[level], skips[level])
        return x, mesh


class MeshSegmentationHead(nn.Module):
    """``(features (E, C), mesh) -> logits (E, num_classes)``: the official segmenter's
    last stage (MeshConv, instance norm, ReLU and ``blocks`` residual blocks on the input
    mesh). As in the official code it ends with instance norm and ReLU, so the logits are
    non-negative."""

    def __init__(self, in_channels: int, num_classes: int, blocks: int = 3):
        super().__init__()
        self.stage = UpConv(in_channels, num_classes, blocks, unpool=False)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.stage(x, mesh, mesh)


class MeshUNet(nn.Module):
    """Deprecated: :class:`MeshUNetEncoder` followed by :class:`MeshSegmentationHead` (as
    :class:`geo3d.models.MeshCNNSegmenter` composes them); goes in the next release."""

    def __init__(self, num_classes: int, in_channels: int = 5, resblocks: int = 3, **options):
        super().__init__()
        warnings.warn(
            "MeshUNet is MeshUNetEncoder + MeshSegmentationHead now (geo3d.encoders); "
            "it goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        self.encoder = MeshUNetEncoder(in_channels, resblocks=resblocks, **options)
        self.head = MeshSegmentationHead(self.encoder.out_dim, num_classes, resblocks)

    def forward(self, x: torch.Tensor, mesh: MeshBatch) -> torch.Tensor:
        return self.head(*self.encoder(x, mesh))
