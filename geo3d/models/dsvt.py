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

import math

import torch
from torch import nn

from geo3d.encoders.dsvt import DSVT
from geo3d.heads.center_head import CenterHead
from geo3d.models.center_detector import CenterDetector, tupled
from geo3d.models.deploy_inputs import (
    PILLAR_AXES,
    pillar_inputs,
    set_partition_inputs,
    voxel_stage_inputs,
)
from geo3d.models.registry import register_model
from geo3d.necks.bev_backbone import BEVBackbone
from geo3d.necks.bev_scatter import BEVScatter, bev_indices
from geo3d.ops.set_partition import SetPartition, set_masks, set_partition
from geo3d.pooling.slot_rows import SlotRows
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

    @property
    def canvas_cells(self) -> int:
        """Cells of one scene's canvas (an exported core's spare cell follows them)."""
        return self.scatter.ny * self.scatter.nx

    def export_forward(
        self, points, point_voxels, row_slots, voxel_rows, voxels, bev_index, *partitions
    ):
        """One scene's canvas ``(1, d, ny, nx)`` from pillars in slot rows and, per shift,
        ``sets, set_masks, set_back, window_coords``
        (:func:`geo3d.models.deploy_inputs.set_partition_inputs`)."""
        rows = SlotRows(row_slots, voxel_rows)
        features = self.vfe.encode_slotted(points, point_voxels, rows, voxels)
        shifts = [partitions[i : i + 4] for i in range(0, len(partitions), 4)]
        features = self.dsvt(
            features,
            tuple(SetPartition(sets, masks, local) for sets, masks, _, local in shifts),
            tuple(back for _, _, back, _ in shifts),
        )
        return self.scatter.with_spare_cell(features, bev_index)

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

    def export_limits(self, max_voxels: int) -> dict[str, int]:
        """Sets per shift: at most one partly filled set per window plus the full ones."""
        limits = super().export_limits(max_voxels)
        prep = self.preprocess
        for s, window in enumerate(prep.windows):
            limits[f"sets_{s}"] = set_limit(max_voxels, prep.set_size, prep.sparse_shape, window)
        return limits

    def export_inputs(self, points: torch.Tensor):
        prep = self.preprocess
        inputs = pillar_inputs(prep.assigner, points)
        partitions, axes = set_partition_inputs(
            inputs["voxels"], prep.sparse_shape, prep.windows, prep.shifts, prep.set_size
        )
        return {**inputs, **partitions}, {**PILLAR_AXES, **axes}


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


class VoxelSetAssignment(nn.Module):
    """DSVT-Voxel's index work: ``(points (P, C), batch (P,), scenes ()) -> (points, coords,
    index, voxels, then per stage: sets_0, coords_in_window_0, sets_1, coords_in_window_1
    and, between stages, the pooling slots (W, P) (:func:`geo3d.ops.window_slots`), then
    scenes)``. Stage ``s`` works on the voxels left by the pooling before it (z shrinks by
    the pooling factor: ``ceil(z / p)``)."""

    def __init__(self, assigner: VoxelAssigner, stage_windows, shifts, set_size, pools):
        super().__init__()
        self.assigner = assigner
        self.stage_windows = tuple(tuple(tuple(w) for w in ws) for ws in stage_windows)
        self.shifts, self.set_size, self.pools = tuple(shifts), set_size, tuple(pools)
        nx, ny, nz = assigner.grid.size
        shapes = [(nz, ny, nx)]
        for pool in self.pools:
            shapes.append(tuple(-(-s // p) for s, p in zip(shapes[-1], pool)))
        self.sparse_shapes = tuple(shapes)

    def forward(self, points: torch.Tensor, batch: torch.Tensor, scenes: torch.Tensor):
        from geo3d.ops.windows import window_slots

        points, coords, index, voxels = self.assigner(points, batch)
        out = [points, coords, index, voxels]
        stage_coords = voxels
        for stage, windows in enumerate(self.stage_windows):
            shape = self.sparse_shapes[stage]
            for window, shift in zip(windows, self.shifts):
                p = set_partition(stage_coords.to(torch.int32), shape, window, shift, self.set_size)
                out += [p.sets, p.coords_in_window]
            if stage < len(self.pools):
                slots, stage_coords = window_slots(stage_coords, self.pools[stage])
                out.append(slots)
        out.append(stage_coords)  # the last stage's voxels, for the BEV scatter
        return (*out, scenes)


class DSVTVoxelEncoder(nn.Module):
    """Tensors after :class:`VoxelSetAssignment` -> BEV canvas: the voxel VFE, per stage a
    DSVT stage and (between stages) attention-style 3D pooling, the scatter of the last
    stage's voxels (one z layer) to the canvas."""

    def __init__(
        self,
        in_channels,
        grid,
        vfe_channels,
        pooling,
        stages,
        pools,
        d_model,
        heads,
        reduction="attention",
    ):
        from geo3d.pooling.window_attention import WindowAttentionPool

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
        self.stages = nn.ModuleList(stages)
        if reduction not in ("attention", "max"):
            raise ValueError(f"'reduction' must be 'attention' or 'max' (got {reduction!r})")
        self.reduction = reduction
        self.pools = nn.ModuleList(
            WindowAttentionPool(d_model, pz * py * px, heads)
            if reduction == "attention"
            else nn.Identity()
            for pz, py, px in pools
        )
        for parameter in self.pools.parameters():  # the official Xavier re-draw
            if parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
        nx, ny, _ = grid.size
        self.bev_grid = VoxelGrid(
            (grid.voxel_size[0], grid.voxel_size[1], grid.point_range[5] - grid.point_range[2]),
            grid.point_range,
        )
        self.scatter = BEVScatter(self.bev_grid, d_model)

    @property
    def canvas_cells(self) -> int:
        """Cells of one scene's canvas (an exported core's spare cell follows them)."""
        return self.scatter.ny * self.scatter.nx

    def pool(self, stage: int, features: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """``features (V, d)`` -> ``(W, d)``: the 3D pooling after ``stage`` over ``slots (W,
        P)`` (voxel rows, ``-1`` empty)."""
        occupied = slots >= 0
        gathered = features[slots.clamp(min=0)]
        if self.reduction == "attention":
            return self.pools[stage](gathered, occupied)
        # the official 'maxpool': empty slots are zeros in the max
        return torch.where(occupied[..., None], gathered, 0.0).amax(dim=1)

    def export_forward(self, points, point_voxels, row_slots, voxel_rows, voxels, *stage_inputs):
        """One scene's canvas ``(1, d, ny, nx)`` from voxels in slot rows, per stage the
        partitions of both shifts (``sets, set_masks, set_back, window_coords`` each), between
        stages the pooling slots, and ``bev_index``
        (:func:`geo3d.models.deploy_inputs.voxel_stage_inputs`)."""
        *stage_inputs, bev_index = stage_inputs
        features = self.vfe.encode_slotted(
            points, point_voxels, SlotRows(row_slots, voxel_rows), voxels
        )
        cursor = 0
        for stage, block in enumerate(self.stages):
            shifts = [stage_inputs[cursor + i : cursor + i + 4] for i in (0, 4)]
            cursor += 8
            partitions = tuple(SetPartition(sets, masks, local) for sets, masks, _, local in shifts)
            features = block(features, partitions, tuple(back for _, _, back, _ in shifts))
            if stage < len(self.pools):
                features = self.pool(stage, features, stage_inputs[cursor])
                cursor += 1
        return self.scatter.with_spare_cell(features, bev_index)

    def forward(self, points, coords, index, voxels, *stage_tensors):
        *stage_tensors, last_coords, scenes = stage_tensors
        features, _ = self.vfe.encode(points, coords, index, voxels)
        cursor = 0
        for stage, block in enumerate(self.stages):
            sets0, local0, sets1, local1 = stage_tensors[cursor : cursor + 4]
            cursor += 4
            partitions = (
                SetPartition(sets0, set_masks(sets0), local0),
                SetPartition(sets1, set_masks(sets1), local1),
            )
            features = block(features, partitions)
            if stage < len(self.pools):
                features = self.pool(stage, features, stage_tensors[cursor])
                cursor += 1
        num_scenes = int(scenes)
        return self.scatter(
            features, bev_indices(last_coords, self.bev_grid, num_scenes), num_scenes
        )


class DSVTVoxel(CenterDetector):
    """DSVT-Voxel (OpenPCDet ``dsvt_voxel``): the dynamic voxel VFE, stages of DSVT blocks
    on 3D windows whose z extent shrinks with the voxels, attention-style 3D pooling along z
    between stages (:class:`geo3d.pooling.WindowAttentionPool`, slots x-major as the
    official ``get_pooling_index``; ``reduction="max"`` is the official ``maxpool``
    alternative, empty slots counting as zeros), the scatter of the last stage (one z
    layer) to BEV, a BEV backbone and the CenterPoint head.

    Defaults: the paper's Waymo settings (0.32 x 0.32 x 0.1875 m, 32 z layers, set size 48,
    windows 12 x 12 x {32, 8, 2, 1}, hybrid 24 x 24, z pooling 4, 4, 2, one block per
    stage, d 192, 8 heads); the BEV backbone is SECOND's plain one, as in
    :class:`DSVTPillar`."""

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 4,
        voxel_size=(0.32, 0.32, 0.1875),
        point_range=WAYMO_RANGE,
        vfe_channels=(192, 192),
        pooling: str = "max",
        d_model: int = 192,
        heads: int = 8,
        ffn: int = 384,
        blocks_per_stage=(1, 1, 1, 1),
        set_size: int = 48,
        window=(12, 12),
        stage_depths=(32, 8, 2, 1),
        z_pools=(4, 4, 2),
        hybrid_factor=(2, 2),
        shift=(6, 6),
        official_position_quirk: bool = True,
        reduction: str = "attention",
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
        nz = grid.size[2]
        if len(stage_depths) != len(blocks_per_stage) or len(z_pools) != len(stage_depths) - 1:
            raise ValueError("one depth and block count per stage, one z pooling between stages")
        depth = nz
        for s, wz in enumerate(stage_depths):
            if wz != depth:
                raise ValueError(
                    f"stage {s} sees {depth} z layers but its windows span {wz} "
                    f"(stage_depths {stage_depths}, z_pools {z_pools}, {nz} z layers)"
                )
            if s < len(z_pools):
                depth = -(-depth // z_pools[s])
        if depth != 1:
            raise ValueError(f"the last stage must have one z layer (it has {depth})")
        if vfe_channels[-1] != d_model:
            raise ValueError(
                f"the VFE's last width ({vfe_channels[-1]}) must be d_model ({d_model})"
            )
        wy, wx = window
        stage_windows = [
            ((wz, wy, wx), (wz, wy * hybrid_factor[0], wx * hybrid_factor[1]))
            for wz in stage_depths
        ]
        shifts = ((0, 0, 0), (0, shift[0], shift[1]))
        stages = [
            DSVT(d_model, heads, ffn, blocks, windows, 0.0, official_position_quirk)
            for blocks, windows in zip(blocks_per_stage, stage_windows)
        ]
        pools = [(p, 1, 1) for p in z_pools]
        encoder = DSVTVoxelEncoder(
            in_channels, grid, vfe_channels, pooling, stages, pools, d_model, heads, reduction
        )
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
            encoder.bev_grid,
            stride=neck.stride,
            head_channels=head_channels,
            loc_weight=loc_weight,
            heading=heading,
        )
        preprocess = VoxelSetAssignment(
            encoder.vfe.assigner, stage_windows, shifts, set_size, pools
        )
        super().__init__(
            encoder, head, preprocess, neck, score_threshold, nms_threshold, max_objects
        )

    def export_limits(self, max_voxels: int) -> dict[str, int]:
        """Voxels at every level (pooling only merges them) and sets per stage and shift, as
        :meth:`DSVTPillar.export_limits`."""
        limits = super().export_limits(max_voxels)
        prep = self.preprocess
        for stage, windows in enumerate(prep.stage_windows):
            if stage:
                limits[f"voxels_{stage}"] = max_voxels
            shape = prep.sparse_shapes[stage]
            limits.update(
                {
                    f"stage{stage}_sets_{s}": set_limit(max_voxels, prep.set_size, shape, window)
                    for s, window in enumerate(windows)
                }
            )
        return limits

    def export_inputs(self, points: torch.Tensor):
        return voxel_stage_inputs(self.preprocess, self.encoder.bev_grid, points)


def set_limit(max_voxels: int, set_size: int, sparse_shape, window) -> int:
    """The most sets a partition of ``max_voxels`` voxels can have: the full sets plus at
    most one partly filled set per window, and never more sets than voxels."""
    windows = math.prod(-(-n // w) + 1 for n, w in zip(sparse_shape, window))
    return min(max_voxels, -(-max_voxels // set_size) + windows)


@register_model("dsvt_voxel")
def dsvt_voxel(num_classes: int = 3, **options) -> DSVTVoxel:
    """:class:`DSVTVoxel` by name (list options given as lists)."""
    return DSVTVoxel(num_classes, **tupled(options))
