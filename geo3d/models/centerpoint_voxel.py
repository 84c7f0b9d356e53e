"""CenterPoint-Voxel (Yin et al., CVPR 2021), as OpenPCDet's ``centerpoint`` configs build it:
hard voxels with their mean point as features (``MeanVFE``), SECOND's sparse 3D backbone
down to 1/8 (:class:`geo3d.encoders.sparse_backbone.SparseBackbone8x`, plain or residual),
the z layers stacked into BEV channels (``HeightCompression``), a 2D BEV backbone and the
CenterPoint head.

``forward(points (P, C), batch (P,), scenes ())`` -> ``(heatmap logits, regression)``; the
voxel assignment (points to voxels, the hard caps) is ``preprocess``, the rest tensors in,
tensors out (the sparse convolutions build their rulebooks inside: they are index work that
an exporter would move out, as DSVT's). ``loss`` and ``predict`` as :mod:`pointpillars`.
The sparse convolutions are geo3d's (they train on the CPU); ``sparse_backend="spconv"``
runs them on spconv's kernels (same weights).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from geo3d.encoders.sparse_backbone import (
    SparseBackbone8x,
    height_compression,
    sparse_output_shape,
)
from geo3d.heads.center_head import CenterHead
from geo3d.models.center_detector import CenterDetector, tupled
from geo3d.models.deploy_inputs import sparse_conv_inputs
from geo3d.models.registry import register_model
from geo3d.necks.bev_backbone import BEVBackbone
from geo3d.nn.sparse_conv import SparseConvolution, SparseConvTensor
from geo3d.ops import scatter
from geo3d.pooling.slot_rows import SlotRows, rows_mean
from geo3d.pooling.voxel_encoder import VoxelAssigner, VoxelAssignment
from geo3d.structures.voxels import VoxelGrid

# OpenPCDet's SECOND / CenterPoint KITTI grid: 0.05 x 0.05 x 0.1 m over this range.
KITTI_RANGE = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0)
KITTI_VOXEL = (0.05, 0.05, 0.1)
BACKBONE_STRIDE = 8


class SparseVoxelEncoder(nn.Module):
    """``(points (P', C), coords, index (P',), voxels (V, 4) (b, z, y, x), scenes ()) -> BEV
    (B, out_channels * D, ny / 8, nx / 8)``: mean of each voxel's points, the sparse backbone
    on the grid ``(nz + 1, ny, nx)``, height compression."""

    def __init__(
        self,
        in_channels: int,
        grid: VoxelGrid,
        residual: bool = False,
        channels=None,
        out_channels: int = 128,
        backend: str = "geo3d",
    ):
        super().__init__()
        nx, ny, nz = grid.size
        self.in_channels = in_channels  # point channels (x, y, z first)
        self.sparse_shape = (nz + 1, ny, nx)
        self.backbone = SparseBackbone8x(
            in_channels, residual, channels, out_channels, backend=backend
        )
        depth, height, width = sparse_output_shape(self.sparse_shape)
        self.bev_shape = (height, width)
        self.out_channels = out_channels * depth

    @property
    def canvas_cells(self) -> int:
        """Cells of the dense output grid (an exported core's spare cell follows them)."""
        return math.prod(sparse_output_shape(self.sparse_shape))

    def export_forward(self, points, point_voxels, row_slots, voxel_rows, *maps_and_cells):
        """One scene's BEV ``(1, C * D, H, W)`` from points in slot rows, the backbone's
        neighbour maps in key order and the output voxels' flat cells
        (:func:`geo3d.models.deploy_inputs.sparse_conv_inputs`)."""
        *maps, cells = maps_and_cells
        features = rows_mean(points, SlotRows(row_slots, voxel_rows))  # (V, C)
        keys = conv_keys(self.backbone)
        out = self.backbone.map_forward(features, dict(zip(keys, maps)))  # (N, C)
        depth, height, width = sparse_output_shape(self.sparse_shape)
        grid = depth * height * width
        canvas = out.new_zeros((grid + 1, out.shape[1])).index_put((cells,), out)[:grid]
        canvas = canvas.view(depth, height, width, out.shape[1]).permute(3, 0, 1, 2)
        return canvas.reshape(1, out.shape[1] * depth, height, width)

    def forward(self, points, coords, index, voxels, scenes: torch.Tensor) -> torch.Tensor:
        features = scatter(points, index, voxels.shape[0], "mean")
        x = SparseConvTensor(features, voxels.to(torch.int32), list(self.sparse_shape), int(scenes))
        return height_compression(self.backbone(x))


class CenterPointVoxel(CenterDetector):
    """CenterPoint-Voxel (module docstring). Defaults: OpenPCDet's KITTI SECOND grid (0.05 x
    0.05 x 0.1 m over ``KITTI_RANGE``, 5 points and 16,000 / 40,000 voxels per scene),
    ``VoxelBackBone8x``, and the Waymo CenterPoint BEV backbone (5 + 5 layers, strides 1 and
    2, 128 / 256 filters, both upsampled to 256 at stride 1 of the sparse output).

    ``residual`` picks ``VoxelResBackBone8x``; ``sparse_channels`` scales the four stages.
    ``upsample_strides`` above the layer strides give a finer head (``(2, 4)``: the head at 1/4
    of the voxel grid instead of 1/8)."""

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 4,
        voxel_size=KITTI_VOXEL,
        point_range=KITTI_RANGE,
        max_points_per_voxel: int | None = 5,
        max_voxels=(16000, 40000),
        residual: bool = False,
        sparse_channels=None,
        sparse_out_channels: int = 128,
        layer_nums=(5, 5),
        layer_strides=(1, 2),
        num_filters=(128, 256),
        upsample_strides=(1, 2),
        upsample_filters=(256, 256),
        head_channels: int = 64,
        loc_weight: float = 2.0,
        heading: str = "sincos",
        score_threshold: float = 0.1,
        nms_threshold: float = 0.01,
        max_objects: int = 500,
        sparse_backend: str = "geo3d",
    ):
        grid = VoxelGrid(voxel_size, point_range)
        if grid.is_pillars:
            raise ValueError(
                f"CenterPoint-Voxel needs several z layers (voxel_size {voxel_size} over "
                f"{point_range} makes pillars)"
            )
        nx, ny, _ = grid.size
        if nx % BACKBONE_STRIDE or ny % BACKBONE_STRIDE:
            raise ValueError(
                f"the voxel grid ({nx} x {ny}) must divide by {BACKBONE_STRIDE} in x and y"
            )
        encoder = SparseVoxelEncoder(
            in_channels,
            grid,
            residual,
            None if sparse_channels is None else tuple(sparse_channels),
            sparse_out_channels,
            sparse_backend,
        )
        neck = BEVBackbone(
            encoder.out_channels,
            tuple(layer_nums),
            tuple(layer_strides),
            tuple(num_filters),
            tuple(upsample_strides),
            tuple(upsample_filters),
        )
        stride = BACKBONE_STRIDE * layer_strides[0] / upsample_strides[0]
        if stride != int(stride) or stride < 1:
            raise ValueError(
                f"the head's stride {BACKBONE_STRIDE} x {layer_strides[0]} / "
                f"{upsample_strides[0]} must be a whole number of voxels"
            )
        head = CenterHead(
            neck.out_channels,
            num_classes,
            grid,
            stride=int(stride),
            head_channels=head_channels,
            loc_weight=loc_weight,
            heading=heading,
        )
        assigner = VoxelAssigner(grid, max_points_per_voxel, max_voxels)
        super().__init__(
            encoder,
            head,
            VoxelAssignment(assigner),
            neck,
            score_threshold,
            nms_threshold,
            max_objects,
        )

    def export_inputs(self, points: torch.Tensor):
        encoder = self.encoder
        return sparse_conv_inputs(
            self.preprocess.assigner, encoder.backbone, encoder.sparse_shape, points
        )


def conv_keys(module: nn.Module) -> list[str]:
    """The ``indice_key`` of every sparse convolution of ``module``, in order of first use."""
    keys = [m.indice_key for m in module.modules() if isinstance(m, SparseConvolution)]
    return list(dict.fromkeys(keys))


@register_model("centerpoint_voxel")
def centerpoint_voxel(num_classes: int = 3, **options) -> CenterPointVoxel:
    """:class:`CenterPointVoxel` by name (list options given as lists)."""
    return CenterPointVoxel(num_classes, **tupled(options))
