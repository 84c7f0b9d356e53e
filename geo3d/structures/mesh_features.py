"""MeshCNN's five input features per edge (Hanocka et al., SIGGRAPH 2019, section 3.1).

For edge ``e`` with endpoints ``p0, p1`` and the opposite vertices ``p2`` (first face) and
``p3`` (second face), the features are

1. the dihedral angle: ``pi - arccos(n_a . n_b)`` with ``n_a = (p2 - p0) x (p1 - p0)`` and
   ``n_b = (p3 - p1) x (p0 - p1)`` (so a flat surface gives ``pi``),
2. and 3. the angles at ``p2`` and ``p3`` opposite the edge, sorted,
4. and 5. the height of ``p2`` and ``p3`` over the edge divided by the edge's length, sorted.

``p0`` is the endpoint shared with neighbour slot 0, ``p2`` the vertex shared by slots 0
and 1, ``p3`` the one shared by slots 2 and 3 (``mesh_prepare.get_side_points``). A
boundary edge reads its only face for both sides, so its dihedral angle is 0 and its
sorted pairs hold the same value twice, as in the official code.

``variant="official"`` computes what the official ``mesh_prepare.extract_features`` does:
every norm it divides by gets ``+ 0.1`` (``fixed_division``), so normals and edge
directions are not unit vectors, the angles are not the true angles, and the features
depend on the mesh's scale. ``variant="exact"`` computes the true geometry (scale
invariant). Both are computed in float64, as the official numpy code is.
"""

from __future__ import annotations

import math

import torch

from geo3d.structures.mesh_edges import MeshEdges

FEATURE_VARIANTS = ("official", "exact")
NUM_EDGE_FEATURES = 5
_OFFICIAL_EPSILON = 0.1


def edge_side_points(edges: torch.Tensor, gemm: torch.Tensor) -> torch.Tensor:
    """``(E, 4)`` vertex ids ``p0, p1, p2, p3`` of every edge (module docstring).

    ``edges (E, 2)`` and ``gemm (E, 4)`` as :func:`geo3d.structures.mesh_edges` gives them.
    """
    first_face_missing = gemm[:, 0] < 0
    second_face_missing = gemm[:, 2] < 0
    # A boundary edge reads its one face for both sides.
    b = torch.where(first_face_missing, gemm[:, 2], gemm[:, 0])
    c = torch.where(first_face_missing, gemm[:, 3], gemm[:, 1])
    d = torch.where(second_face_missing, gemm[:, 0], gemm[:, 2])
    f = torch.where(second_face_missing, gemm[:, 1], gemm[:, 3])
    if bool(((b < 0) | (d < 0)).any()):
        raise ValueError("an edge has no face (gemm is -1 on both sides)")
    edge_b, edge_c, edge_d, edge_f = edges[b], edges[c], edges[d], edges[f]

    def shared_with(pair: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """The vertex of ``pair`` that ``other`` also holds (its second if both qualify)."""
        second_in = (pair[:, 1:2] == other).any(dim=1)
        return torch.where(second_in, pair[:, 1], pair[:, 0])

    p0 = shared_with(edges, edge_b)
    p1 = torch.where(p0 == edges[:, 0], edges[:, 1], edges[:, 0])
    p2 = shared_with(edge_b, edge_c)
    p3 = shared_with(edge_d, edge_f)
    return torch.stack([p0, p1, p2, p3], dim=1)


def _divide(vectors_or_values: torch.Tensor, norms: torch.Tensor, official: bool) -> torch.Tensor:
    if official:
        return vectors_or_values / (norms + _OFFICIAL_EPSILON)
    return vectors_or_values / norms.clamp(min=torch.finfo(norms.dtype).tiny)


def _side_normal(a, b, o, official: bool) -> torch.Tensor:
    """The normal of triangle ``(a, b, o)`` as the official ``get_normals`` orients it."""
    normal = torch.linalg.cross(o - a, b - a)
    return _divide(normal, normal.norm(dim=1, keepdim=True), official)


def _opposite_angle(a, b, o, official: bool) -> torch.Tensor:
    u, v = a - o, b - o
    u = _divide(u, u.norm(dim=1, keepdim=True), official)
    v = _divide(v, v.norm(dim=1, keepdim=True), official)
    return torch.arccos((u * v).sum(dim=1).clamp(-1, 1))


def _height_ratio(a, b, o, official: bool) -> torch.Tensor:
    """Distance from ``o`` to the line ``ab`` over ``|ab|``."""
    line = b - a
    length = line.norm(dim=1)
    if not official:
        return torch.linalg.cross(line, o - a).norm(dim=1) / length.square()
    # The official projection divides by |ab| + 0.1, so its "closest point" is off the
    # true foot of the perpendicular.
    projection = (line * (o - a)).sum(dim=1) / (length + _OFFICIAL_EPSILON)
    closest = a + (projection / length)[:, None] * line
    return (o - closest).norm(dim=1) / length


def edge_features(
    vertices: torch.Tensor, view: MeshEdges, variant: str = "official"
) -> torch.Tensor:
    """The five MeshCNN features ``(E, 5)`` float32 of every edge (module docstring).

    Args:
        vertices: ``(V, 3)`` float positions.
        view: the mesh's edge view (:func:`geo3d.structures.mesh_edges`).
        variant: ``"official"`` (the official code's ``+ 0.1`` divisions, the default, as
            MeshCNN's trained models expect) or ``"exact"`` (true angles and ratios).

    Raises a ``ValueError`` for an unknown variant, NaN or infinite coordinates, or a
    zero-length edge (the ratios divide by the edge length).
    """
    if variant not in FEATURE_VARIANTS:
        raise ValueError(f"'variant' must be one of {FEATURE_VARIANTS} (got {variant!r})")
    if vertices.dim() != 2 or vertices.shape[1] != 3:
        raise ValueError(f"Expected 'vertices' of shape (V, 3) (got {tuple(vertices.shape)})")
    if not bool(torch.isfinite(vertices).all()):
        raise ValueError("'vertices' holds NaN or infinite coordinates")
    official = variant == "official"
    points = edge_side_points(view.edges, view.gemm)
    xyz = vertices.to(torch.float64)
    p0, p1, p2, p3 = (xyz[points[:, i]] for i in range(4))
    lengths = (p1 - p0).norm(dim=1)
    if bool((lengths == 0).any()):
        e = int((lengths == 0).nonzero()[0, 0])
        raise ValueError(
            f"edge {e} {view.edges[e].tolist()} has zero length (duplicate vertices; "
            "repair the mesh with geo3d.structures.repair_mesh)"
        )
    normal_a = _side_normal(p0, p1, p2, official)
    normal_b = _side_normal(p1, p0, p3, official)
    dihedral = math.pi - torch.arccos((normal_a * normal_b).sum(dim=1).clamp(-1, 1))
    angles = (
        torch.stack(
            [_opposite_angle(p0, p1, p2, official), _opposite_angle(p1, p0, p3, official)], dim=1
        )
        .sort(dim=1)
        .values
    )
    ratios = (
        torch.stack(
            [_height_ratio(p0, p1, p2, official), _height_ratio(p1, p0, p3, official)], dim=1
        )
        .sort(dim=1)
        .values
    )
    return torch.cat([dihedral[:, None], angles, ratios], dim=1).to(torch.float32)


def edge_areas(vertices: torch.Tensor, faces: torch.Tensor, view: MeshEdges) -> torch.Tensor:
    """``(E,)`` a third of the area of each edge's faces, over the mesh's total area (sums
    to 1): the weights of MeshCNN's segmentation accuracy (``build_gemm``'s ``edge_areas``)."""
    xyz = vertices.to(torch.float64)
    a, b, c = (xyz[faces[:, i]] for i in range(3))
    face_area = torch.linalg.cross(b - a, c - a).norm(dim=1) / 2
    per_face = torch.where(view.edge_faces >= 0, face_area[view.edge_faces.clamp(min=0)], 0.0)
    return (per_face.sum(dim=1) / 3 / face_area.sum()).to(torch.float32)
