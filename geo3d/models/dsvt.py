"""DSVT-Pillar (Wang et al., CVPR 2023), as OpenPCDet's ``dsvt_pillar`` config builds it: the
dynamic pillar VFE (every point kept; pooling chosen by name, so PVTransformer's attention
can replace the max), one stage of DSVT blocks over the pillars
(:class:`geo3d.encoders.dsvt.DSVT`), the scatter to the BEV canvas, a BEV backbone and the
CenterPoint head.

``preprocess`` does all the index work (pillars, and the set partitions of both shifts:
sets, masks, in-window coordinates), so ``forward`` after it is tensors in, tensors out, as
the official TensorRT deployment splits it. ``loss`` and ``predict`` as :mod:`pointpillars`.

Where we differ from the official config, on purpose: the BEV backbone is SECOND's plain
one (:class:`geo3d.necks.BEVBackbone`) rather than its residual variant, and the defaults
follow the pillar config's sizes (0.32 m pillars, d 192, 8 heads, set size 36, 12 x 12 and
24 x 24 windows with shift (6, 6), 4 blocks).
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.encoders.dsvt import DSVT
from geo3d.heads.center_head import CenterHead
from geo3d.models.center_detector import CenterDetector, tupled
from geo3d.models.registry import register_model
from geo3d.necks.bev_backbone import BEVBackbone
from geo3d.necks.bev_scatter import BEVScatter, bev_indices
from geo3d.ops.set_partition import SetPartition, set_masks, set_partition
from geo3d.pooling.voxel_encoder import VoxelAssigner, VoxelFeatureEncoder
from geo3d.structures.voxels import VoxelGrid

# OpenPCDet's dsvt_pillar (Waymo) grid: 0.32 m pillars over this range (468 x 468).
WAYMO_RANGE = (-74.88, -74.88, -2.0, 74.88, 74.88, 4.0)
PILLAR_SIZE = (0.32, 0.32, 6.0)


class SetAssignment(nn.Module):
    """``(points (P, C), batch (P,), scenes ()) -> (points, coords, index, pillars (V, 4),
    sets_0, coords_in_window_0, sets_1, coords_in_window_1, scenes)``: the pillars
    (:class:`VoxelAssigner`, no parameters) and DSVT's set partitions for both shifts
    (:func:`geo3d.ops.set_partition`); masks follow from the sets."""

    def __init__(self, assigner: VoxelAssigner, windows, shifts, set_size: int):
        super().__init__()
        self.assigner = assigner
        self.windows, self.shifts, self.set_size = tuple(windows), tuple(shifts), set_size
        nx, ny, nz = assigner.grid.size
        self.sparse_shape = (nz, ny, nx)

    def forward(self, points: torch.Tensor, batch: torch.Tensor, scenes: torch.Tensor):
        points, coords, index, pillars = self.assigner(points, batch)
        voxel_coords = pillars.to(torch.int32)
        partitions = []
        for window, shift in zip(self.windows, self.shifts):
            p = set_partition(voxel_coords, self.sparse_shape, window, shift, self.set_size)
            partitions += [p.sets, p.coords_in_window]
        return (points, coords, index, pillars, *partitions, scenes)


class DSVTPillarEncoder(nn.Module):
    """Tensors after :class:`SetAssignment` -> BEV canvas ``(B, d, ny, nx)``: the pillar VFE,
    the DSVT blocks, the scatter."""

    def __init__(self, in_channels, grid: VoxelGrid, vfe_channels, pooling, dsvt: DSVT):
        super().__init__()
        self.grid = grid
        self.vfe = VoxelFeatureEncoder(
            in_channels,
            tuple(vfe_channels),
            grid.voxel_size,
            grid.point_range,
            pooling=pooling,
            variant="official",
        )
        self.dsvt = dsvt
        self.scatter = BEVScatter(grid, self.vfe.out_channels)

    def forward(self, points, coords, index, pillars, sets0, local0, sets1, local1, scenes):
        features, pillars = self.vfe.encode(points, coords, index, pillars)
        partitions = (
            SetPartition(sets0, set_masks(sets0), local0),
            SetPartition(sets1, set_masks(sets1), local1),
        )
        features = self.dsvt(features, partitions)
        num_scenes = int(scenes)
        return self.scatter(features, bev_indices(pillars, self.grid, num_scenes), num_scenes)


class DSVTPillar(CenterDetector):
    """DSVT-Pillar with a CenterPoint head (module docstring)."""

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 4,
        voxel_size=PILLAR_SIZE,
        point_range=WAYMO_RANGE,
        vfe_channels=(192, 192),
        pooling: str = "max",
        d_model: int = 192,
        heads: int = 8,
        ffn: int = 384,
        blocks: int = 4,
        set_size: int = 36,
        window=(12, 12),
        hybrid_factor=(2, 2),
        shift=(6, 6),
        official_position_quirk: bool = True,
        layer_nums=(1, 2, 2),
        layer_strides=(1, 2, 2),
        num_filters=(128, 128, 256),
        upsample_strides=(1, 2, 4),
        upsample_filters=(128, 128, 128),
        head_channels: int = 64,
        loc_weight: float = 2.0,
        heading: str = "sincos",
        score_threshold: float = 0.1,
        nms_threshold: float = 0.01,
        max_objects: int = 500,
    ):
        grid = VoxelGrid(voxel_size, point_range)
        if not grid.is_pillars:
            raise ValueError(f"DSVT-Pillar needs one z cell (voxel_size {voxel_size})")
        if vfe_channels[-1] != d_model:
            raise ValueError(
                f"the VFE's last width ({vfe_channels[-1]}) must be d_model ({d_model})"
            )
        wy, wx = window
        windows = ((1, wy, wx), (1, wy * hybrid_factor[0], wx * hybrid_factor[1]))
        shifts = ((0, 0, 0), (0, shift[0], shift[1]))
        dsvt = DSVT(d_model, heads, ffn, blocks, windows, 0.0, official_position_quirk)
        encoder = DSVTPillarEncoder(in_channels, grid, vfe_channels, pooling, dsvt)
        neck = BEVBackbone(
            d_model,
            tuple(layer_nums),
            tuple(layer_strides),
            tuple(num_filters),
            tuple(upsample_strides),
            tuple(upsample_filters),
        )
        head = CenterHead(
            neck.out_channels,
            num_classes,
            grid,
            stride=neck.stride,
            head_channels=head_channels,
            loc_weight=loc_weight,
            heading=heading,
        )
        preprocess = SetAssignment(encoder.vfe.assigner, windows, shifts, set_size)
        super().__init__(
            encoder, head, preprocess, neck, score_threshold, nms_threshold, max_objects
        )


@register_model("dsvt_pillar")
def dsvt_pillar(num_classes: int = 3, **options) -> DSVTPillar:
    """:class:`DSVTPillar` by name (list options given as lists)."""
    return DSVTPillar(num_classes, **tupled(options))


@register_model("pvt_pillar")
def pvt_pillar(num_classes: int = 3, **options) -> DSVTPillar:
    """PVTransformer (Leng et al., 2024) on pillars: the point-to-voxel attention VFE
    (``pooling="attention"``: each pillar's points are keys and values for a residual query
    from their max-pooled feature) in place of PointNet's max pooling, on DSVT's pillar
    transformer. The paper's backbone is a sparse window transformer and it published no
    code, so the other settings are DSVT-Pillar's."""
    options.setdefault("pooling", "attention")
    return DSVTPillar(num_classes, **tupled(options))
