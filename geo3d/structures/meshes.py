"""Triangle meshes as plain tensors, and area-weighted sampling of their surfaces."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mesh:
    """``vertices (V, 3)`` float32 and ``faces (F, 3)`` int64 vertex indices (counter-clockwise)."""

    vertices: torch.Tensor
    faces: torch.Tensor

    def __post_init__(self):
        check_mesh(self.vertices, self.faces)

    def face_areas(self) -> torch.Tensor:
        """``(F,)`` triangle areas."""
        a, b, c = (self.vertices[self.faces[:, i]] for i in range(3))
        return torch.linalg.cross(b - a, c - a).norm(dim=1) / 2


def check_mesh(vertices: torch.Tensor, faces: torch.Tensor, name: str = "mesh") -> None:
    """A ``ValueError`` naming what is wrong: shapes, dtypes, indices, NaN, emptiness."""
    if vertices.dim() != 2 or vertices.shape[1] != 3 or not vertices.dtype.is_floating_point:
        raise ValueError(
            f"{name}: expected float vertices of shape (V, 3), got {tuple(vertices.shape)} "
            f"{vertices.dtype}"
        )
    if faces.dim() != 2 or faces.shape[1] != 3 or faces.dtype != torch.int64:
        raise ValueError(
            f"{name}: expected int64 faces of shape (F, 3), got {tuple(faces.shape)} {faces.dtype}"
        )
    if vertices.shape[0] == 0 or faces.shape[0] == 0:
        raise ValueError(
            f"{name}: empty mesh ({vertices.shape[0]} vertices, {faces.shape[0]} faces)"
        )
    if int(faces.min()) < 0 or int(faces.max()) >= vertices.shape[0]:
        raise ValueError(f"{name}: face indices outside [0, {vertices.shape[0]})")
    if not bool(torch.isfinite(vertices).all()):
        raise ValueError(f"{name}: vertices with NaN or inf coordinates")


def sample_surface(
    mesh: Mesh, num_points: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``num_points`` points uniform on the surface (faces chosen by area), with face normals.

    Returns ``points (num_points, 3)`` and unit ``normals (num_points, 3)``. Deterministic
    for a given ``generator`` state.
    """
    if num_points < 1:
        raise ValueError(f"'num_points' must be at least 1 (got {num_points})")
    areas = mesh.face_areas()
    if not float(areas.sum()) > 0:
        raise ValueError("the mesh has zero surface area (all faces degenerate)")
    face = torch.multinomial(areas, num_points, replacement=True, generator=generator)
    u, v = torch.rand(2, num_points, 1, generator=generator, dtype=mesh.vertices.dtype)
    flip = (u + v) > 1  # reflect into the triangle: uniform barycentric coordinates
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    a, b, c = (mesh.vertices[mesh.faces[face, i]] for i in range(3))
    points = a + u * (b - a) + v * (c - a)
    normals = torch.linalg.cross(b - a, c - a)
    return points, normals / normals.norm(dim=1, keepdim=True).clamp(min=1e-12)
