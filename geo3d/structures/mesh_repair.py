"""Making a triangle soup fit MeshCNN's edge view: merged duplicate vertices, no degenerate
or repeated faces, every edge in one or two faces.

The official ``mesh_prepare.remove_non_manifolds`` silently drops zero-area faces and any
face that repeats a directed edge already seen (which also drops faces whose winding
disagrees with a neighbour's). We drop only what breaks the edge view, in face order,
and say what we did; with ``repair=False`` the first problem is an error that names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_mesh` changed (counts)."""

    merged_vertices: int = 0
    unreferenced_vertices: int = 0
    degenerate_faces: int = 0
    duplicate_faces: int = 0
    non_manifold_faces: int = 0

    @property
    def changed(self) -> bool:
        return any(v > 0 for v in vars(self).values())

    def __str__(self) -> str:
        parts = [f"{v} {k.replace('_', ' ')}" for k, v in vars(self).items() if v > 0]
        return ", ".join(parts) if parts else "nothing to repair"


def _merge_duplicate_vertices(vertices, faces):
    unique, inverse = torch.unique(vertices, dim=0, return_inverse=True)
    # Keep the first occurrence's position in the order the file gives (stable numbering).
    occurrence = torch.arange(vertices.shape[0])
    first = torch.full((unique.shape[0],), vertices.shape[0]).scatter_reduce(
        0, inverse, occurrence, reduce="amin"
    )
    rank = torch.empty_like(first)
    rank[first.argsort()] = torch.arange(first.shape[0])
    return vertices[first.sort().values], rank[inverse][faces], vertices.shape[0] - unique.shape[0]


def _drop_unreferenced(vertices, faces):
    used = torch.zeros(vertices.shape[0], dtype=torch.bool)
    used[faces.reshape(-1)] = True
    new_index = torch.cumsum(used, 0) - 1
    return vertices[used], new_index[faces], int((~used).sum())


def _degenerate(vertices, faces):
    repeated = (
        (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    )
    xyz = vertices.to(torch.float64)
    a, b, c = (xyz[faces[:, i]] for i in range(3))
    zero_area = torch.linalg.cross(b - a, c - a).norm(dim=1) == 0
    return repeated | zero_area


def _duplicates(faces):
    keys = faces.sort(dim=1).values
    _, inverse = torch.unique(keys, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), faces.shape[0]).scatter_reduce(
        0, inverse, torch.arange(faces.shape[0]), reduce="amin"
    )
    return first[inverse] != torch.arange(faces.shape[0])


def _non_manifold(faces, num_vertices):
    """Faces that would give an edge a third face, in face order (a face is kept only if
    all three of its edges still have room)."""
    pairs = torch.stack([faces, faces.roll(-1, dims=1)], dim=2).sort(dim=2).values
    keys = (pairs[..., 0] * num_vertices + pairs[..., 1]).reshape(-1)
    _, edge = torch.unique(keys, return_inverse=True)
    edge = edge.reshape(-1, 3)
    counts = torch.bincount(edge.reshape(-1))
    drop = torch.zeros(faces.shape[0], dtype=torch.bool)
    if bool((counts <= 2).all()):
        return drop
    # Only faces touching an over-full edge need the sequential decision.
    suspicious = (counts[edge] > 2).any(dim=1).nonzero().squeeze(1).tolist()
    kept = torch.bincount(edge[~(counts[edge] > 2).any(dim=1)].reshape(-1), minlength=len(counts))
    room = (2 - kept).tolist()
    for f in suspicious:
        e = edge[f].tolist()
        if all(room[x] > 0 for x in e):
            for x in e:
                room[x] -= 1
        else:
            drop[f] = True
    return drop


def repair_mesh(
    vertices: torch.Tensor, faces: torch.Tensor, repair: bool = True, name: str = "mesh"
) -> tuple[torch.Tensor, torch.Tensor, RepairReport]:
    """Return ``(vertices (V', 3), faces (F', 3), report)`` ready for MeshCNN.

    In order: vertices with identical coordinates are merged (OBJ files split vertices at
    texture seams); unreferenced vertices are dropped; faces with a repeated vertex or zero
    area are dropped; repeated faces are dropped; then, in face order, a face that would
    give an edge a third face is dropped. With ``repair=False`` any of these is a
    ``ValueError`` naming the first offending vertex, face or edge.
    """
    if faces.shape[0] == 0:
        raise ValueError(f"{name}: the mesh has no faces")
    if not repair:
        _check_only(vertices, faces, name)
        return vertices, faces, RepairReport()
    vertices, faces, merged = _merge_duplicate_vertices(vertices, faces)
    degenerate = _degenerate(vertices, faces)
    faces = faces[~degenerate]
    if faces.shape[0] == 0:
        raise ValueError(f"{name}: every face is degenerate")
    duplicate = _duplicates(faces)
    faces = faces[~duplicate]
    non_manifold = _non_manifold(faces, vertices.shape[0])
    faces = faces[~non_manifold]
    vertices, faces, unreferenced = _drop_unreferenced(vertices, faces)
    report = RepairReport(merged, unreferenced, int(degenerate.sum()), int(duplicate.sum()),
                          int(non_manifold.sum()))  # fmt: skip
    return vertices, faces, report


def _check_only(vertices, faces, name):
    unique = torch.unique(vertices, dim=0)
    if unique.shape[0] != vertices.shape[0]:
        _, inverse, counts = torch.unique(vertices, dim=0, return_inverse=True, return_counts=True)
        duplicated = (counts[inverse] > 1).nonzero().squeeze(1)[:2].tolist()
        raise ValueError(f"{name}: vertices {duplicated} are duplicates (same coordinates)")
    degenerate = _degenerate(vertices, faces)
    if bool(degenerate.any()):
        f = int(degenerate.nonzero()[0, 0])
        raise ValueError(f"{name}: face {f} {faces[f].tolist()} is degenerate (zero area)")
    duplicate = _duplicates(faces)
    if bool(duplicate.any()):
        f = int(duplicate.nonzero()[0, 0])
        raise ValueError(f"{name}: face {f} {faces[f].tolist()} repeats an earlier face")
    from geo3d.structures.mesh_edges import mesh_edges

    try:
        mesh_edges(faces, vertices.shape[0])
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
