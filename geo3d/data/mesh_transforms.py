"""MeshCNN's augmentations (Hanocka et al., SIGGRAPH 2019, section 4; the official
``data/mesh_prepare.py``), with the official defaults, each drawn from a
``torch.Generator`` so that a run is reproducible.

- :func:`scale_vertices`: each axis scaled by a factor from ``N(1, 0.1)`` (``scale_verts``).
- :func:`flip_edges`: up to 20 % of the edges, visited in random order, flipped where the
  two faces are nearly coplanar (dihedral angle above 2.7), the flipped edge does not
  already exist and both new faces have area (``flip_edges``). Flips change the edge
  numbering, so they are for classification only (segmentation labels follow the edges).
- :func:`slide_vertices`: up to 20 % of the vertices, visited in random order, moved a
  fraction ``U(0.2, 0.5)`` of the way along one of their edges, where every edge at the
  vertex is nearly flat (dihedral angle above 2.65) (``slide_verts``). The dihedral angles
  are the official (``+ 0.1``) feature, computed once before the slides, as the official
  code does.

The official code precomputes ``num_aug = 20`` augmented copies per mesh and draws one per
epoch; we augment afresh for every (seed, epoch, sample), which draws from the same
distribution without the cache.
"""

from __future__ import annotations

import math

import torch

from geo3d.structures.mesh_edges import MeshEdges, mesh_edges
from geo3d.structures.mesh_features import edge_features

FLIP_MIN_DIHEDRAL = 2.7
SLIDE_MIN_DIHEDRAL = 2.65


def scale_vertices(
    vertices: torch.Tensor, generator: torch.Generator | None = None, std: float = 0.1
) -> torch.Tensor:
    """``(V, 3)`` with each axis multiplied by its own factor from ``N(1, std)``."""
    factors = 1 + std * torch.randn(3, generator=generator, dtype=torch.float64)
    return (vertices.to(torch.float64) * factors).to(vertices.dtype)


def _face_dihedral(vertices: torch.Tensor, faces: torch.Tensor, edge_faces: torch.Tensor):
    """``pi - angle`` between the two faces' normals (the official ``angles_from_faces``)."""
    xyz = vertices.to(torch.float64)
    normals = []
    for side in range(2):
        face = faces[edge_faces[:, side].clamp(min=0)]
        a, b, c = (xyz[face[:, i]] for i in range(3))
        n = torch.linalg.cross(c - b, b - a)
        norm = n.norm(dim=1, keepdim=True)
        normals.append(n / torch.where(norm == 0, 0.1, norm))
    dot = (normals[0] * normals[1]).sum(dim=1).clamp(-1, 1)
    return math.pi - torch.arccos(dot)


def _triangle_area_positive(xyz: list, face) -> bool:
    a, b, c = (xyz[v] for v in face)
    u = [b[i] - a[i] for i in range(3)]
    w = [c[i] - b[i] for i in range(3)]
    cross = (u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0])
    return any(x != 0 for x in cross)


def flip_edges(
    vertices: torch.Tensor,
    faces: torch.Tensor,
    fraction: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """New ``faces (F, 3)`` with up to ``int(fraction * E)`` edges flipped (module docstring);
    each rebuilt face keeps its winding. The input is not modified."""
    view = mesh_edges(faces, vertices.shape[0])
    num_edges = view.edges.shape[0]
    dihedral = _face_dihedral(vertices, faces, view.edge_faces).tolist()
    faces_list = faces.tolist()
    edge_vertices = view.edges.tolist()
    edge_faces = view.edge_faces.tolist()
    key_of = {tuple(e): k for k, e in enumerate(edge_vertices)}
    xyz = vertices.to(torch.float64).tolist()
    target, flipped = int(fraction * num_edges), 0
    for key in torch.randperm(num_edges, generator=generator).tolist():
        if flipped == target:
            break
        f0, f1 = edge_faces[key]
        if dihedral[key] <= FLIP_MIN_DIHEDRAL or f1 < 0:
            continue
        u, w = edge_vertices[key]
        opposite = sorted((set(faces_list[f0]) | set(faces_list[f1])) - {u, w})
        if len(opposite) != 2 or tuple(opposite) in key_of:
            continue
        new_faces = ([w, *opposite], [u, *opposite])
        if not all(_triangle_area_positive(xyz, f) for f in new_faces):
            continue
        del key_of[(u, w)]
        key_of[tuple(opposite)] = key
        edge_vertices[key] = opposite
        for face_id, new_face, other in ((f0, new_faces[0], f1), (f1, new_faces[1], f0)):
            face = faces_list[face_id]
            (incoming,) = set(new_face) - set(face)
            slot = next(i for i in range(3) if face[i] not in new_face)
            face[slot] = incoming
            # The face's other edges that used to border `other` now border this face.
            for i in range(3):
                pair = tuple(sorted((face[i], face[(i + 1) % 3])))
                if list(pair) == opposite:
                    continue
                slots = edge_faces[key_of[pair]]
                for j in range(2):
                    if slots[j] == other:
                        slots[j] = face_id
        flipped += 1
    return torch.tensor(faces_list, dtype=torch.int64).reshape(-1, 3)


def slide_vertices(
    vertices: torch.Tensor,
    view: MeshEdges,
    fraction: float = 0.2,
    generator: torch.Generator | None = None,
    dihedral: str = "exact",
) -> torch.Tensor:
    """New ``vertices (V, 3)`` with up to ``int(fraction * V)`` vertices slid along an edge
    (module docstring). Vertices on no edge and boundary vertices never move."""
    num_vertices = vertices.shape[0]
    angles = edge_features(vertices, view, dihedral)[:, 0].to(torch.float64)
    ends = view.edges.reshape(-1)
    flat = torch.full((num_vertices,), -math.inf, dtype=torch.float64).scatter_reduce(
        0, ends, angles.repeat_interleave(2), reduce="amin", include_self=False
    )
    degree = torch.bincount(ends, minlength=num_vertices)
    eligible = (flat > SLIDE_MIN_DIHEDRAL) & (degree > 0)
    order = torch.randperm(num_vertices, generator=generator)
    chosen = order[eligible[order]][: int(fraction * num_vertices)].tolist()
    if not chosen:
        return vertices.clone()
    incident = [[] for _ in range(num_vertices)]
    for e, (a, b) in enumerate(view.edges.tolist()):
        incident[a].append(e)
        incident[b].append(e)
    xyz = vertices.to(torch.float64).clone()
    edges = view.edges
    for v in chosen:
        options = incident[v]
        pick = int(torch.randint(len(options), (1,), generator=generator))
        a, b = edges[options[pick]].tolist()
        towards = b if a == v else a
        step = 0.2 + 0.3 * float(torch.rand(1, generator=generator, dtype=torch.float64))
        xyz[v] = xyz[v] + step * (xyz[towards] - xyz[v])
    return xyz.to(vertices.dtype)
