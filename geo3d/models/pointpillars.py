"""PointPillars (Lang et al., CVPR 2019) with a CenterPoint head (Yin et al., CVPR 2021), as
OpenPCDet's ``pointpillar`` backbone with ``CenterHead``: a pillar feature encoder whose
per-pillar pooling is chosen by name (``max`` as the paper, ``soft``, or PVTransformer's
point-to-voxel ``attention``), the scatter to the BEV canvas, SECOND's BEV backbone with
FPN-style upsampling, and the centre heatmap head.

``forward(points (P, C), batch (P,), scenes ())`` -> ``(heatmap logits, regression)``, with
the pillar assignment (points to pillars, caps) in ``preprocess`` and everything after it
tensors in, tensors out;
``loss(outputs, (boxes (B, M, 7), labels (B, M), num_boxes (B,)))``; ``predict(outputs)`` ->
per-scene ``{"boxes", "scores", "labels"}``. Pillars are packed segments pooled by a segment
reduction, dynamic (every point kept, as DSVT's dynamic VFE) unless capped as the paper's hard
voxelization (:class:`PointPillars`).
"""

from __future__ import annotations

import torch
from torch import nn

from geo3d.heads.center_head import CenterHead
from geo3d.models.center_detector import CenterDetector, tupled
from geo3d.models.deploy_inputs import PILLAR_AXES, pillar_inputs
from geo3d.models.registry import register_model
from geo3d.necks.bev_backbone import BEVBackbone
from geo3d.necks.bev_scatter import BEVScatter, bev_indices
from geo3d.pooling.slot_rows import SlotRows
from geo3d.pooling.voxel_encoder import VoxelAssignment, VoxelFeatureEncoder
from geo3d.structures.voxels import VoxelGrid

# OpenPCDet's PointPillars KITTI grid.
KITTI_RANGE = (0.0, -39.68, -3.0, 69.12, 39.68, 1.0)
PILLAR_SIZE = (0.16, 0.16, 4.0)


class PillarEncoder(nn.Module):
    """``(points (P', C), coords (P', 3), index (P',), pillars (V, 4), scenes ()) -> canvas
    (B, channels, ny, nx)``: the pillar features of assigned points (:class:`VoxelAssignment`
    does the index work), scattered to the canvas."""

    def __init__(
        self,
        in_channels: int,
        channels: tuple[int, ...],
        grid: VoxelGrid,
        pooling: str = "max",
        vfe_variant: str = "plain",
        max_points_per_pillar: int | None = None,
        max_pillars=None,
    ):
        super().__init__()
        self.grid = grid
        self.vfe = VoxelFeatureEncoder(
            in_channels,
            channels,
            grid.voxel_size,
            grid.point_range,
            pooling=pooling,
            variant=vfe_variant,
            max_points_per_voxel=max_points_per_pillar,
            max_voxels=max_pillars,
        )
        self.scatter = BEVScatter(grid, self.vfe.out_channels)

    @property
    def canvas_cells(self) -> int:
        """Cells of one scene's canvas (an exported core's spare cell follows them)."""
        return self.scatter.ny * self.scatter.nx

    def export_forward(self, points, point_voxels, row_slots, voxel_rows, voxels, bev_index):
        """One scene's canvas ``(1, channels, ny, nx)`` from pillars in slot rows
        (:func:`geo3d.models.deploy_inputs.pillar_inputs`)."""
        rows = SlotRows(row_slots, voxel_rows)
        features = self.vfe.encode_slotted(points, point_voxels, rows, voxels)
        return self.scatter.with_spare_cell(features, bev_index)

    def forward(self, points, coords, index, pillars, scenes: torch.Tensor):
        features, pillars = self.vfe.encode(points, coords, index, pillars)
        num_scenes = int(scenes)
        return self.scatter(features, bev_indices(pillars, self.grid, num_scenes), num_scenes)


class PointPillars(CenterDetector):
    """PointPillars with a CenterPoint head (module docstring). Defaults: OpenPCDet's KITTI
    settings (0.16 m pillars over ``KITTI_RANGE``, 64 pillar channels, the 3/5/5 backbone).

    ``max_points_per_pillar`` and ``max_pillars`` (a count, or ``(training, evaluation)``
    counts per scene) cap the pillars as hard voxelization does (OpenPCDet's KITTI config:
    32 and ``(16000, 40000)``); by default every point is kept (dynamic pillars).
    ``heading`` is the head's heading code (:class:`~geo3d.heads.CenterHead`)."""

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 4,
        voxel_size=PILLAR_SIZE,
        point_range=KITTI_RANGE,
        pillar_channels=(64,),
        pooling: str = "max",
        layer_nums=(3, 5, 5),
        num_filters=(64, 128, 256),
        upsample_filters=(128, 128, 128),
        score_threshold: float = 0.1,
        nms_threshold: float = 0.01,
        max_objects: int = 500,
        head_channels: int = 64,
        loc_weight: float = 2.0,
        max_points_per_pillar: int | None = None,
        max_pillars=None,
        heading: str = "sincos",
    ):
        grid = VoxelGrid(voxel_size, point_range)
        encoder = PillarEncoder(
            in_channels,
            tuple(pillar_channels),
            grid,
            pooling,
            max_points_per_pillar=max_points_per_pillar,
            max_pillars=max_pillars,
        )
        neck = BEVBackbone(
            encoder.vfe.out_channels,
            tuple(layer_nums),
            (2, 2, 2),
            tuple(num_filters),
            (1, 2, 4),
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
        super().__init__(
            encoder,
            head,
            VoxelAssignment(encoder.vfe.assigner),
            neck,
            score_threshold,
            nms_threshold,
            max_objects,
        )

    def export_inputs(self, points: torch.Tensor):
        return pillar_inputs(self.preprocess.assigner, points), dict(PILLAR_AXES)


@register_model("pointpillars")
def pointpillars(num_classes: int = 3, **options) -> PointPillars:
    """:class:`PointPillars` by name (list options given as lists)."""
    return PointPillars(num_classes, **tupled(options))
