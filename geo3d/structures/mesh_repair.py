"""Making a triangle soup fit MeshCNN's edge view: merged duplicate vertices, no degenerate
or repeated faces, every edge in one or two faces.

The official ``mesh_prepare.remove_non_manifolds`` silently drops zero-area faces and any
face that repeats a directed edge already seen (which also drops faces whose winding
disagrees with a neighbour's). We drop only what breaks the edge view, in face order,
and say what we did; with ``repair=False`` the first problem is an error that names it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class RepairReport:
    """What :func:`repair_mesh` changed (counts)."""

    merged_vertices: int = 0
    unreferenced_vertices: int = 0
    degenerate_faces: int = 0
    duplicate_faces: int = 0
    non_manifold_faces: int = 0
    split_vertices: int = 0

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


def _fans(faces: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """``(F, 3)`` fan id of every face corner: corners of one vertex are in one fan when
    their faces are joined, around the vertex, through faces sharing an edge."""
    num_faces = faces.shape[0]
    corner = torch.arange(3 * num_faces).reshape(num_faces, 3)
    pairs = torch.stack(
        [faces, faces.roll(-1, dims=1)], dim=2
    )  # (F, 3, 2): edge i = corners i, i+1
    ends = torch.stack([corner, corner.roll(-1, dims=1)], dim=2)
    order = pairs.sort(dim=2)
    keys = (order.values[..., 0] * num_vertices + order.values[..., 1]).reshape(-1)
    ends = ends.gather(2, order.indices).reshape(-1, 2)  # corners of the low and high vertex
    sorted_keys, idx = keys.sort(stable=True)
    same = (sorted_keys[1:] == sorted_keys[:-1]).nonzero().squeeze(1)
    a, b = ends[idx[same]], ends[idx[same + 1]]  # the two faces of an interior edge
    links = torch.cat([a, b], dim=1)  # (L, 4): low corners (0, 2), high corners (1, 3)
    left = torch.cat([links[:, 0], links[:, 1]])
    right = torch.cat([links[:, 2], links[:, 3]])
    label = torch.arange(3 * num_faces)
    while True:  # propagate the smallest corner id along the links until nothing changes
        low = torch.minimum(label[left], label[right])
        new = label.scatter_reduce(0, left, low, reduce="amin").scatter_reduce(
            0, right, low, reduce="amin"
        )
        if torch.equal(new, label):
            return label.reshape(num_faces, 3)
        label = new


def _split_pinched_vertices(vertices, faces):
    """Give every extra fan of a pinched (non-manifold) vertex its own copy of the vertex."""
    fans = _fans(faces, vertices.shape[0]).reshape(-1)
    corner_vertex = faces.reshape(-1)
    unique_fans, fan_of_corner = torch.unique(fans, return_inverse=True)
    fan_vertex = torch.zeros(unique_fans.shape[0], dtype=torch.int64).scatter(
        0, fan_of_corner, corner_vertex
    )
    # The first fan of a vertex keeps it; the others get new vertices.
    order = torch.argsort(fan_vertex, stable=True)
    first = torch.ones_like(order, dtype=torch.bool)
    first[1:] = fan_vertex[order[1:]] != fan_vertex[order[:-1]]
    extra = order[~first]
    new_id = fan_vertex.clone()
    new_id[extra] = vertices.shape[0] + torch.arange(extra.shape[0])
    vertices = torch.cat([vertices, vertices[fan_vertex[extra]]])
    return vertices, new_id[fan_of_corner].reshape(-1, 3), int(extra.shape[0])


def repair_mesh(
    vertices: torch.Tensor, faces: torch.Tensor, repair: bool = True, name: str = "mesh"
) -> tuple[torch.Tensor, torch.Tensor, RepairReport]:
    """Return ``(vertices (V', 3), faces (F', 3), report)`` ready for MeshCNN.

    In order: vertices with identical coordinates are merged (OBJ files split vertices at
    texture seams); unreferenced vertices are dropped; faces with a repeated vertex or zero
    area are dropped; repeated faces are dropped; then, in face order, a face that would
    give an edge a third face is dropped; last, a vertex where separate fans of faces meet
    (a pinch) gets one copy per extra fan. With ``repair=False`` any of these is a
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
    vertices, faces, split = _split_pinched_vertices(vertices, faces)
    report = RepairReport(
        merged,
        unreferenced,
        int(degenerate.sum()),
        int(duplicate.sum()),
        int(non_manifold.sum()),
        split,
    )
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
    _, _, split = _split_pinched_vertices(vertices, faces)
    if split:
        fans = _fans(faces, vertices.shape[0]).reshape(-1)
        corner_vertex = faces.reshape(-1)
        counts = torch.zeros(vertices.shape[0], dtype=torch.int64)
        for v in torch.unique(torch.stack([corner_vertex, fans], 1), dim=0)[:, 0].tolist():
            counts[v] += 1
        v = int((counts > 1).nonzero()[0, 0])
        raise ValueError(f"{name}: vertex {v} is non-manifold (separate fans of faces meet there)")


def simplify_mesh(
    vertices: torch.Tensor, faces: torch.Tensor, num_faces: int, name: str = "mesh"
) -> tuple[torch.Tensor, torch.Tensor, RepairReport]:
    """Open3D's quadric decimation to about ``num_faces`` faces (how MeshCNN's data sets
    were brought to their sizes: 500 faces, 750 edges, for SHREC), then :func:`repair_mesh`
    (decimation can leave non-manifold edges). ``(vertices (V', 3), faces (F', 3), report)``
    in the input's dtype."""
    if isinstance(num_faces, bool) or not isinstance(num_faces, int) or num_faces < 1:
        raise ValueError(f"'num_faces' must be a positive integer (got {num_faces!r})")
    from geo3d.optional import require

    o3d = require("open3d", "simplify_mesh (quadric decimation)")
    mesh = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(vertices.detach().double().cpu().numpy()),
        o3d.utility.Vector3iVector(faces.detach().int().cpu().numpy()),
    )
    small = mesh.simplify_quadric_decimation(num_faces)
    simplified = torch.tensor(np.asarray(small.vertices), dtype=vertices.dtype)
    triangles = torch.tensor(np.asarray(small.triangles), dtype=torch.int64)
    return repair_mesh(simplified, triangles, name=name)
