"""3D boxes in the LiDAR frame: ``(x, y, z, dx, dy, dz, heading)``.

The OpenPCDet convention: ``(x, y, z)`` is the centre of the box (z too, not the bottom),
``dx`` is the length along the heading direction, ``dy`` the width, ``dz`` the height, and
``heading`` the rotation around +z, counter-clockwise from +x, in radians.
"""

from __future__ import annotations

import torch

BOX_DIM = 7


def check_boxes(name: str, boxes: torch.Tensor) -> None:
    """``boxes`` must be a floating (M, 7) tensor with finite values and non-negative sizes."""
    if not isinstance(boxes, torch.Tensor) or boxes.dim() != 2 or boxes.shape[1] != BOX_DIM:
        raise ValueError(
            f"Expected '{name}' of shape (M, 7) as (x, y, z, dx, dy, dz, heading) "
            f"(got {getattr(boxes, 'shape', type(boxes))})"
        )
    if not boxes.dtype.is_floating_point:
        raise ValueError(f"Expected '{name}' to be a floating tensor (got {boxes.dtype})")
    if boxes.numel() and not bool(torch.isfinite(boxes).all()):
        raise ValueError(f"'{name}' has NaN or inf values")
    if boxes.numel() and bool((boxes[:, 3:6] < 0).any()):
        raise ValueError(f"'{name}' has negative sizes (dx, dy, dz)")


def rotate_points_z(points: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``points (..., 3+)`` counter-clockwise around +z by ``angle``, broadcast
    against ``points[..., 0]`` (one angle per point, per row, or one for all)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y = points[..., 0], points[..., 1]
    rotated = torch.stack([x * cos - y * sin, x * sin + y * cos], dim=-1)
    return torch.cat([rotated, points[..., 2:]], dim=-1)


def box_corners(boxes: torch.Tensor) -> torch.Tensor:
    """The 8 corners of each box: ``(M, 7) -> (M, 8, 3)``.

    Corners 0-3 are the bottom face, 4-7 the top, counter-clockwise seen from above,
    starting at the (+dx/2, +dy/2) corner; corner i + 4 is above corner i.
    """
    check_boxes("boxes", boxes)
    signs = (
        boxes.new_tensor(
            [
                [1, 1, -1],
                [-1, 1, -1],
                [-1, -1, -1],
                [1, -1, -1],
                [1, 1, 1],
                [-1, 1, 1],
                [-1, -1, 1],
                [1, -1, 1],
            ]
        )
        / 2
    )
    corners = signs[None] * boxes[:, None, 3:6]  # (M, 8, 3)
    corners = rotate_points_z(corners, boxes[:, 6:7].expand(-1, 8))
    return corners + boxes[:, None, 0:3]


def points_in_boxes(points: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Which points lie in which boxes: ``points (N, 3+), boxes (M, 7) -> (N, M)`` bool.

    A point on a face counts as inside (the nuScenes devkit's ``points_in_box`` rule;
    OpenPCDet's kernel excludes the side faces, which differs only on the boundary).
    """
    check_boxes("boxes", boxes)
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or points.shape[1] < 3:
        raise ValueError(
            f"Expected 'points' of shape (N, 3+) (got {getattr(points, 'shape', type(points))})"
        )
    xyz = points[:, :3].to(boxes.dtype)
    local = xyz[:, None, :] - boxes[None, :, 0:3]  # (N, M, 3) in the box's axes after rotation
    local = rotate_points_z(local, -boxes[None, :, 6].expand(local.shape[0], -1))
    half = boxes[None, :, 3:6] / 2
    return (local.abs() <= half).all(dim=-1)


def count_points_in_boxes(
    points: torch.Tensor, boxes: torch.Tensor, chunk: int = 65536
) -> torch.Tensor:
    """The number of points inside each box, ``(M,)`` int64, in chunks of ``chunk`` points."""
    counts = torch.zeros(boxes.shape[0], dtype=torch.int64, device=boxes.device)
    for start in range(0, points.shape[0], chunk):
        counts += points_in_boxes(points[start : start + chunk], boxes).sum(dim=0)
    return counts
