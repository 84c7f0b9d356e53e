"""A batch of meshes in MeshCNN's edge view, packed: edges of all meshes in one tensor.

No padding: meshes of any edge counts share one ``(E, C)`` feature tensor, the layout
that :class:`geo3d.nn.MeshConv` and :class:`geo3d.pooling.MeshPool` work on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from geo3d.structures.mesh_edges import MeshEdges
from geo3d.structures.points import cat_shifted, counts_to_ptr, ptr_to_batch


@dataclass(frozen=True)
class MeshBatch:
    """Packed connectivity of ``B`` meshes.

    Attributes:
        edges: ``(E, 2)`` int64 vertex ids into ``vertices``.
        gemm: ``(E, 4)`` int64 neighbour edge ids (packed), ``-1`` at boundaries.
        sides: ``(E, 4)`` int64 slot in which each neighbour lists the edge back.
        vertices: ``(V, 3)`` float positions.
        edge_ptr: ``(B + 1,)`` int64 offsets of each mesh's edges.
        vertex_ptr: ``(B + 1,)`` int64 offsets of each mesh's vertices.
        stale_refs: ``(V,)`` int64 or ``None``: the official MeshCNN pooling's leftover
            incident-edge entries per vertex, carried from one pooling to the next
            (:attr:`geo3d.ops.CollapsePlan.stale_refs`); ``None`` for a fresh mesh.
    """

    edges: torch.Tensor
    gemm: torch.Tensor
    sides: torch.Tensor
    vertices: torch.Tensor
    edge_ptr: torch.Tensor
    vertex_ptr: torch.Tensor
    stale_refs: torch.Tensor | None = None

    @classmethod
    def from_views(cls, views: list[MeshEdges], vertices: list[torch.Tensor]) -> MeshBatch:
        """Pack per-mesh edge views and vertices (indices shifted, ``-1`` kept)."""
        if not views or len(views) != len(vertices):
            raise ValueError("need one vertex tensor per edge view, and at least one mesh")
        edge_ptr = counts_to_ptr([v.edges.shape[0] for v in views])
        vertex_ptr = counts_to_ptr([v.shape[0] for v in vertices])
        return cls(
            edges=cat_shifted([v.edges for v in views], vertex_ptr),
            gemm=cat_shifted([v.gemm for v in views], edge_ptr),
            sides=torch.cat([v.sides for v in views]),
            vertices=torch.cat(vertices),
            edge_ptr=edge_ptr,
            vertex_ptr=vertex_ptr,
        )

    @property
    def num_meshes(self) -> int:
        return self.edge_ptr.shape[0] - 1

    @property
    def num_edges(self) -> int:
        return self.edges.shape[0]

    def edge_counts(self) -> torch.Tensor:
        """``(B,)`` edges per mesh."""
        return self.edge_ptr.diff()

    def edge_batch(self) -> torch.Tensor:
        """``(E,)`` the mesh of every edge."""
        return ptr_to_batch(self.edge_ptr)

    def to(self, device) -> MeshBatch:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return replace(self, **{k: v.to(device) for k, v in fields.items() if v is not None})

    def plan_collapse(self, priority: torch.Tensor, targets: torch.Tensor, **options):
        """MeshCNN's edge-collapse plan of every mesh (:func:`geo3d.ops.plan_edge_collapse`
        on this batch's CPU topology; ``options``: ``variant``, ``stale_refs``)."""
        from geo3d.ops import plan_edge_collapse

        cpu = self.to("cpu")
        return plan_edge_collapse(
            cpu.edges,
            cpu.gemm,
            cpu.sides,
            priority,
            cpu.vertices,
            cpu.edge_ptr,
            cpu.vertex_ptr,
            torch.as_tensor(targets),
            **options,
        )

    def mesh(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(vertices, edges, gemm)`` of one mesh with local indices."""
        e0, e1 = int(self.edge_ptr[index]), int(self.edge_ptr[index + 1])
        v0, v1 = int(self.vertex_ptr[index]), int(self.vertex_ptr[index + 1])
        gemm = self.gemm[e0:e1]
        return self.vertices[v0:v1], self.edges[e0:e1] - v0, torch.where(gemm >= 0, gemm - e0, -1)
