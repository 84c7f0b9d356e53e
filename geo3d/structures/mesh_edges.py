"""MeshCNN's edge view of a triangle mesh (Hanocka et al., SIGGRAPH 2019).

Edges are numbered in the order the official code meets them: faces in order, and in
each face the edges (v0, v1), (v1, v2), (v2, v0). For every edge, ``gemm (E, 4)`` holds
its four one-ring neighbours: slots 0 and 1 are the next two edges of its first face (in
that face's order), slots 2 and 3 those of its second face, ``-1`` at a boundary.
``sides (E, 4)`` gives, for each neighbour, the slot in which that neighbour lists this
edge back (``mesh_prepare.build_gemm``). Edge files of MeshCNN's segmentation data
(``.eseg``, ``.seseg``) use this numbering.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MeshEdges:
    """``edges (E, 2)`` sorted vertex pairs, ``gemm (E, 4)``, ``sides (E, 4)`` int64, and
    ``edge_faces (E, 2)`` (the first and second face of each edge, ``-1`` at a boundary)."""

    edges: torch.Tensor
    gemm: torch.Tensor
    sides: torch.Tensor
    edge_faces: torch.Tensor

    @property
    def boundary(self) -> torch.Tensor:
        """``(E,)`` True for edges with a single face."""
        return self.edge_faces[:, 1] < 0


def mesh_edges(faces: torch.Tensor, num_vertices: int | None = None) -> MeshEdges:
    """The edge view of ``faces (F, 3)`` int64; see the module docstring.

    Raises a ``ValueError`` naming the first non-manifold edge (three or more faces) and
    the first degenerate face (a repeated vertex): MeshCNN's neighbourhoods need every
    edge to have one or two faces.
    """
    if faces.dim() != 2 or faces.shape[1] != 3 or faces.dtype != torch.int64:
        raise ValueError(
            f"Expected int64 'faces' of shape (F, 3) (got {tuple(faces.shape)} {faces.dtype})"
        )
    num_faces = faces.shape[0]
    if num_faces == 0:
        raise ValueError("the mesh has no faces")
    degenerate = (
        (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 0] == faces[:, 2])
    )
    if bool(degenerate.any()):
        f = int(degenerate.nonzero()[0, 0])
        raise ValueError(f"face {f} {faces[f].tolist()} is degenerate (a repeated vertex)")
    if num_vertices is None:
        num_vertices = int(faces.max()) + 1
    # (F, 3, 2): edge i of face f joins corners i and i + 1, as sorted vertex pairs
    pairs = torch.stack([faces, faces.roll(-1, dims=1)], dim=2).sort(dim=2).values
    keys = (pairs[..., 0] * num_vertices + pairs[..., 1]).reshape(-1)  # face-major order
    unique, inverse = torch.unique(keys, return_inverse=True)
    occurrence = torch.arange(keys.shape[0])
    first = torch.full_like(unique, keys.shape[0]).scatter_reduce(
        0, inverse, occurrence, reduce="amin"
    )
    rank_of_unique = torch.empty_like(first)
    rank_of_unique[first.argsort()] = torch.arange(first.shape[0])
    edge_id = rank_of_unique[inverse].reshape(num_faces, 3)  # edges numbered by first meeting
    num_edges = unique.shape[0]

    flat = edge_id.reshape(-1)
    counts = torch.bincount(flat, minlength=num_edges)
    if bool((counts > 2).any()):
        e = int((counts > 2).nonzero()[0, 0])
        a, b = pairs.reshape(-1, 2)[first[rank_of_unique.argsort()][e]].tolist()
        raise ValueError(f"edge ({a}, {b}) is non-manifold: {int(counts[e])} faces share it")
    # The rank of each face-edge occurrence among the occurrences of its edge (0 or 1).
    order = torch.sort(flat, stable=True).indices
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.empty_like(flat)
    rank[order] = torch.arange(flat.shape[0]) - starts[flat[order]]
    rank = rank.reshape(num_faces, 3)

    gemm = torch.full((num_edges, 4), -1, dtype=torch.int64)
    sides = torch.full((num_edges, 4), -1, dtype=torch.int64)
    edge_faces = torch.full((num_edges, 2), -1, dtype=torch.int64)
    face_index = torch.arange(num_faces)[:, None].expand(-1, 3)
    following = edge_id.roll(-1, dims=1)  # the next edge of the same face
    after = edge_id.roll(-2, dims=1)  # and the one after it
    rank_following, rank_after = rank.roll(-1, dims=1), rank.roll(-2, dims=1)
    e, r = edge_id.reshape(-1), rank.reshape(-1)
    gemm[e, 2 * r] = following.reshape(-1)
    gemm[e, 2 * r + 1] = after.reshape(-1)
    # This edge is its following edge's "after" (slot 2r'+1), and its after-edge's "following".
    sides[e, 2 * r] = 2 * rank_following.reshape(-1) + 1
    sides[e, 2 * r + 1] = 2 * rank_after.reshape(-1)
    edge_faces[e, r] = face_index.reshape(-1)
    edges = pairs.reshape(-1, 2)[first[first.argsort()]]
    return MeshEdges(edges=edges, gemm=gemm, sides=sides, edge_faces=edge_faces)


def faces_from_gemm(edges: torch.Tensor, gemm: torch.Tensor) -> torch.Tensor:
    """The triangles an edge view describes: ``(F, 3)`` int64 vertex ids, one per face.

    Face ``(e, gemm[e, s], gemm[e, s + 1])`` for ``s`` in 0 and 2 (where not ``-1``),
    deduplicated by its set of edges and numbered by its lowest edge. Used to draw pooled
    meshes and to check that pooling keeps a valid surface; raises a ``ValueError`` where
    three edges listed as a face do not form a triangle.
    """
    rows = []
    for s in (0, 2):
        has = gemm[:, s] >= 0
        e = has.nonzero().squeeze(1)
        rows.append(torch.stack([e, gemm[e, s], gemm[e, s + 1]], dim=1))
    triples = torch.cat(rows).sort(dim=1).values
    triples = torch.unique(triples, dim=0)
    corners = edges[triples].reshape(-1, 6).sort(dim=1).values  # each vertex appears twice
    if triples.shape[0] and not bool(
        (
            (corners[:, 0::2] == corners[:, 1::2]).all(dim=1)
            & (corners[:, 0] != corners[:, 2])
            & (corners[:, 2] != corners[:, 4])
        ).all()
    ):
        raise ValueError("the edge view lists three edges as a face that are not a triangle")
    return corners[:, 0::2]
