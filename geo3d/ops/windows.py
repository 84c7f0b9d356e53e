"""Window partitions of sparse voxels: the index work that DSVT's window attention and
attention 3D pooling do before any feature math (data-dependent shapes, so it runs outside
an exported model, in ``Pipeline.preprocess``)."""

from __future__ import annotations

import torch

from geo3d.ops.unique_rows import unique_rows


def window_slots(
    coords: torch.Tensor, window: tuple[int, int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Voxels to pooling windows: ``coords (V, 4)`` integer ``(batch, z, y, x)`` and ``window
    (wz, wy, wx)`` -> ``slots (W, wz * wy * wx)`` voxel ids (``-1`` where empty) and the
    windows' coordinates ``(W, 4)`` on the coarser grid.

    A voxel's slot is its position inside its window, x-major as DSVT's
    ``get_pooling_index``: ``x * wy * wz + y * wz + z``, so official weights (whose slot
    embedding is indexed this way) load unpermuted. Coordinates must be integers, with no
    voxel twice (each slot holds one voxel).
    """
    if not isinstance(coords, torch.Tensor) or coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(
            f"Expected 'coords' of shape (V, 4) (got {tuple(getattr(coords, 'shape', ()))})"
        )
    if coords.dtype.is_floating_point or coords.dtype == torch.bool or coords.is_complex():
        raise ValueError(
            f"'coords' must be an integer tensor of voxel indices (got {coords.dtype}); "
            "float coordinates would be truncated"
        )
    if len(tuple(window)) != 3:
        raise ValueError(f"'window' must be 3 sizes (wz, wy, wx) (got {window})")
    wz, wy, wx = (int(w) for w in window)
    if min(wz, wy, wx) < 1:
        raise ValueError(f"'window' sizes must be >= 1 (got {window})")
    coords = coords.long()
    if coords.shape[0] and bool((coords < 0).any()):
        row = int((coords < 0).any(dim=1).nonzero()[0])
        raise ValueError(f"'coords' has a negative entry at row {row}: {coords[row].tolist()}")
    unique_voxels, counts = unique_rows(coords, return_counts=True)
    if bool((counts > 1).any()):
        twice = unique_voxels[counts > 1]
        raise ValueError(
            f"'coords' lists {twice.shape[0]} voxel(s) more than once (first "
            f"{twice[0].tolist()}); each slot holds one voxel"
        )
    size = coords.new_tensor([1, wz, wy, wx])
    coarse = torch.div(coords, size, rounding_mode="floor")
    windows, index = unique_rows(coarse, return_inverse=True)
    local = coords[:, 1:] - coarse[:, 1:] * size[1:]  # (V, 3) z, y, x inside the window
    slot = (local[:, 2] * wy + local[:, 1]) * wz + local[:, 0]  # x-major (official)
    slots = coords.new_full((windows.shape[0], wz * wy * wx), -1)
    slots[index, slot] = torch.arange(coords.shape[0], device=coords.device)
    return slots, windows
