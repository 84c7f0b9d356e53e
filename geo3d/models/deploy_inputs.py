"""The index work of an exported detector, one scene at a time: what its ``preprocess`` does,
in the layout an ONNX / TensorRT core takes (voxels padded to slots, flat canvas indices,
set partitions with their scatter-back indices). Every tensor here is an input of the graph
(:mod:`geo3d.export`); nothing data-dependent is left inside it.

Each function returns an ordered dict ``name -> tensor`` and the dynamic axes of those
inputs (``name -> {axis: dimension name}``), so exporter, manifest and runtimes agree on
names and order. :func:`pad_inputs` pads them to fixed sizes for a static-shape export:
padding points belong to voxel 0 but sit in no row, padding rows are empty and in no
voxel, padding voxels have no row and write to the canvas's spare cell, padding sets hold
voxel 0 once and mask the rest, padding pooling windows are empty, so no padding reaches a
real output.
"""

from __future__ import annotations

import torch

from geo3d.encoders.dsvt import scatter_back_indices
from geo3d.necks.bev_scatter import bev_indices
from geo3d.ops.set_partition import set_partition
from geo3d.pooling.slot_rows import slot_rows
from geo3d.pooling.voxel_encoder import VoxelAssigner

PILLAR_AXES = {
    "points": {0: "points"},
    "point_voxels": {0: "points"},
    "row_slots": {0: "rows"},
    "voxel_rows": {0: "voxels", 1: "rows_per_voxel"},
    "voxels": {0: "voxels"},
    "bev_index": {0: "voxels"},
}


def pillar_inputs(assigner: VoxelAssigner, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """``points (P, C)`` of one scene -> the kept ``points (P', C)`` float, ``point_voxels
    (P',)`` int64 their voxels, ``row_slots (R, 32)`` and ``voxel_rows (V, K)`` int64 each
    voxel's points in rows of 32 slots (``-1`` empty; :func:`geo3d.pooling.slot_rows`),
    ``voxels (V, 4)`` int64 ``(0, z, y, x)``, ``bev_index (V,)`` int64 flat cells of a
    one-scene canvas. The assigner's rules (range, caps in evaluation mode) apply."""
    inputs = voxel_inputs(assigner, points)
    inputs["bev_index"] = bev_indices(inputs["voxels"], assigner.grid, 1)
    return inputs


def voxel_inputs(assigner: VoxelAssigner, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """:func:`pillar_inputs` without the canvas cells (voxels need not be pillars)."""
    if points.dim() != 2 or points.shape[1] < 3:
        raise ValueError(f"Expected 'points' of shape (P, C >= 3) (got {tuple(points.shape)})")
    batch = torch.zeros(points.shape[0], dtype=torch.long, device=points.device)
    points, _, index, voxels = assigner(points, batch)
    rows = slot_rows(index, voxels.shape[0])
    return {
        "points": points,
        "point_voxels": index,
        "row_slots": rows.row_slots,
        "voxel_rows": rows.voxel_rows,
        "voxels": voxels,
    }


def set_partition_inputs(
    voxels: torch.Tensor,
    sparse_shape,
    windows,
    shifts,
    set_size: int,
    prefix: str = "",
    voxel_dim: str = "voxels",
) -> tuple[dict[str, torch.Tensor], dict[str, dict[int, str]]]:
    """DSVT's partitions of ``voxels (V, 4)`` for each shift ``s``: ``sets_s (2, S_s, T)``
    int64, ``set_masks_s (2, S_s, T)`` bool, ``set_back_s (2, V)`` int64 (where each voxel
    reads its attended feature back), ``window_coords_s (V, 3)`` int32, and their axes
    (names and set dimensions after ``prefix``; the voxels' dimension is ``voxel_dim``)."""
    inputs, axes = {}, {}
    coords = voxels.to(torch.int32)
    for s, (window, shift) in enumerate(zip(windows, shifts)):
        p = set_partition(coords, sparse_shape, window, shift, set_size)
        sets = f"{prefix}sets_{s}"
        inputs[sets] = p.sets
        inputs[f"{prefix}set_masks_{s}"] = p.masks
        inputs[f"{prefix}set_back_{s}"] = scatter_back_indices(p.sets, voxels.shape[0])
        inputs[f"{prefix}window_coords_{s}"] = p.coords_in_window
        axes[sets] = {1: sets}
        axes[f"{prefix}set_masks_{s}"] = {1: sets}
        axes[f"{prefix}set_back_{s}"] = {1: voxel_dim}
        axes[f"{prefix}window_coords_{s}"] = {0: voxel_dim}
    return inputs, axes


def voxel_stage_inputs(
    preprocess, bev_grid, points: torch.Tensor
) -> tuple[dict[str, torch.Tensor], dict[str, dict[int, str]]]:
    """DSVT-Voxel's inputs for one scene (``preprocess``: its ``VoxelSetAssignment``): the
    points in slot rows (:func:`voxel_inputs`), per stage ``t`` its partitions
    (:func:`set_partition_inputs` with prefix ``stage<t>_``, voxels of dimension
    ``voxels`` then ``voxels_<t>``), between stages ``pool_slots_<t> (W, P)`` int64 (the
    pooling windows' voxels, ``-1`` empty: :func:`geo3d.ops.window_slots`), and
    ``bev_index`` of the last stage's voxels on ``bev_grid``'s one-scene canvas."""
    from geo3d.ops.windows import window_slots

    inputs = voxel_inputs(preprocess.assigner, points)
    axes = {name: PILLAR_AXES[name] for name in inputs}
    coords, level = inputs["voxels"], "voxels"
    for stage, windows in enumerate(preprocess.stage_windows):
        partitions, partition_axes = set_partition_inputs(
            coords,
            preprocess.sparse_shapes[stage],
            windows,
            preprocess.shifts,
            preprocess.set_size,
            prefix=f"stage{stage}_",
            voxel_dim=level,
        )
        inputs.update(partitions)
        axes.update(partition_axes)
        if stage < len(preprocess.pools):
            slots, coords = window_slots(coords, preprocess.pools[stage])
            level = f"voxels_{stage + 1}"
            inputs[f"pool_slots_{stage}"] = slots
            axes[f"pool_slots_{stage}"] = {0: level}
    inputs["bev_index"] = bev_indices(coords, bev_grid, 1)
    axes["bev_index"] = {0: level}
    return inputs, axes


def sparse_conv_inputs(
    assigner: VoxelAssigner, backbone, sparse_shape, points: torch.Tensor
) -> tuple[dict[str, torch.Tensor], dict[str, dict[int, str]]]:
    """A sparse-convolution detector's inputs for one scene: the points in slot rows (as
    :func:`pillar_inputs`), ``neighbors_<key> (N, K)`` int64 per convolution key of
    ``backbone`` (its rulebooks' neighbour maps, :func:`geo3d.nn.sparse_conv_maps.neighbor_maps`)
    and ``bev_index (N_out,)`` int64 flat cells of the output voxels in the dense output grid
    ``(D, H, W)``; and their axes (one dimension per voxel level)."""
    from geo3d.nn.sparse_conv_maps import neighbor_maps

    inputs = voxel_inputs(assigner, points)
    voxels = inputs.pop("voxels")
    maps, levels, out_coords, (depth, height, width) = neighbor_maps(
        backbone, voxels.to(torch.int32), sparse_shape
    )
    axes = {name: PILLAR_AXES[name] for name in inputs}
    for key, neighbors in maps.items():
        inputs[f"neighbors_{key}"] = neighbors
        axes[f"neighbors_{key}"] = {0: levels[key]}
    z, y, x = (out_coords[:, i].long() for i in (1, 2, 3))
    inputs["bev_index"] = (z * height + y) * width + x
    axes["bev_index"] = {0: levels[list(maps)[-1]]}
    return inputs, axes


def _fill_value(name: str, canvas_cells: int):
    if name == "bev_index":
        return canvas_cells  # the spare cell (BEVScatter.with_spare_cell)
    if name in ("row_slots", "voxel_rows") or name.startswith(("neighbors_", "pool_slots_")):
        return -1  # empty
    if "set_masks_" in name:
        return True
    return 0


def pad_inputs(
    inputs: dict[str, torch.Tensor],
    axes: dict[str, dict[int, str]],
    sizes: dict[str, int],
    canvas_cells: int,
) -> dict[str, torch.Tensor]:
    """Every dynamic axis padded to ``sizes[dimension]`` (a static-shape export's inputs;
    module docstring). Padding sets keep slot 0 unmasked on voxel 0: an all-masked set
    would make NaNs in the attention."""
    out = {}
    for name, tensor in inputs.items():
        for axis, dim in axes.get(name, {}).items():
            have, want = tensor.shape[axis], sizes[dim]
            if have > want:
                raise ValueError(
                    f"this scene has {have} {dim} (input {name!r}), more than the export's "
                    f"fixed {want}: export again with a larger --max-voxels"
                )
            if have < want:
                shape = list(tensor.shape)
                shape[axis] = want - have
                pad = torch.full(shape, _fill_value(name, canvas_cells), dtype=tensor.dtype)
                if "set_masks_" in name and axis == 1:
                    pad[..., 0] = False
                tensor = torch.cat([tensor, pad.to(tensor.device)], dim=axis)
        out[name] = tensor
    return out
