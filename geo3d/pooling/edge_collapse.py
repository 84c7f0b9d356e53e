"""MeshCNN's pooling by edge collapse and its unpooling (Hanocka et al., SIGGRAPH 2019,
sections 3.3-3.4), on packed batches of meshes.

The planning (which edges collapse, which input edges each survivor absorbs) is the
native op :func:`geo3d.ops.plan_edge_collapse`; the features are then merged by a
differentiable segment mean over the plan's ``(input edge, output edge)`` pairs, with no
dense ``E x E`` matrix.

``variant="official"`` (the default) reproduces the official collapse sequence, its
bookkeeping quirks included, so that MeshCNN's trained weights and published numbers
carry over; ``variant="exact"`` reads the current one-rings and accepts the collapses the
official stale lists refuse (:mod:`geo3d.ops.edge_collapse` says where they differ).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

from geo3d.ops import scatter
from geo3d.ops.edge_collapse import VARIANTS
from geo3d.structures.mesh_batch import MeshBatch


@dataclass(frozen=True)
class PoolRecord:
    """What :class:`MeshUnpool` needs to undo a pooling.

    ``members (M, 2)`` int64 ``(input edge, output edge)`` pairs; ``num_input_edges``;
    ``counts (B,)`` edges per mesh after pooling; ``targets (B,)`` the counts asked for;
    ``kept (E',)`` the input edge that each output edge continues.
    """

    members: torch.Tensor
    num_input_edges: int
    counts: torch.Tensor
    targets: torch.Tensor
    kept: torch.Tensor


def pool_targets(edge_counts: torch.Tensor, target: int | float) -> torch.Tensor:
    """Per-mesh edge targets: an int is an edge count (MeshCNN's ``pool_res``), a float in
    ``(0, 1)`` a fraction of each mesh's edges (for data sets with varied edge counts)."""
    if isinstance(target, bool) or not isinstance(target, int | float):
        raise ValueError(f"the pooling target must be an int or a float (got {target!r})")
    if isinstance(target, float):
        if not 0 < target < 1:
            raise ValueError(f"a fractional pooling target must be in (0, 1) (got {target})")
        return (edge_counts.to(torch.float64) * target).floor().to(torch.int64)
    if target < 0:
        raise ValueError(f"the pooling target must be non-negative (got {target})")
    return torch.full_like(edge_counts, target)


def _priority(x: torch.Tensor, variant: str, chunk: int = 8192) -> torch.Tensor:
    """``(E,)`` float32 squared norms of the edge features, on the CPU. ``official`` sums
    the channels in the official layout (``(C, E)``, over dim 0: the official
    ``torch.sum(features * features, 0)``) so that near-ties round as the official CPU run;
    a chunk of edges at a time, so the transposed copy stays small."""
    with torch.no_grad():
        x = x.detach().float()
        if variant != "official":
            return x.square().sum(dim=1).cpu()
        parts = []
        for start in range(0, x.shape[0], chunk):
            part = x[start : start + chunk].t().contiguous()
            parts.append((part * part).sum(dim=0))
        return torch.cat(parts).cpu() if parts else x.new_zeros(0).cpu()


def mesh_pool(
    x: torch.Tensor,
    mesh: MeshBatch,
    target: int | float,
    warn: bool = True,
    variant: str = "official",
) -> tuple[torch.Tensor, MeshBatch, PoolRecord]:
    """Collapse edges of every mesh until it has ``target`` edges (:func:`pool_targets`).

    Args:
        x: ``(E, C)`` edge features; the priority of an edge is ``|x_e|^2``, smallest first.
        mesh: the batch ``x`` lives on.
        variant: ``"official"`` or ``"exact"`` rules (module docstring). The official one
            carries its bookkeeping to the next pooling in ``mesh.stale_refs``.
    Returns:
        ``(pooled (E', C), pooled mesh, record)``: each survivor's feature is the mean of the
        features of the input edges in its group. Where a mesh runs out of valid collapses
        above its target, it stops there, with a warning naming it (``record.counts``).
    """
    if x.dim() != 2 or x.shape[0] != mesh.num_edges:
        raise ValueError(
            f"MeshPool expects 'x' of shape ({mesh.num_edges}, C) (got {tuple(x.shape)})"
        )
    if variant not in VARIANTS:
        raise ValueError(f"MeshPool 'variant' must be one of {VARIANTS} (got {variant!r})")
    targets = pool_targets(mesh.edge_counts().cpu(), target)
    priority = _priority(x, variant)
    stale = mesh.stale_refs.cpu() if variant == "official" and mesh.stale_refs is not None else None
    plan = mesh.plan_collapse(priority, targets, variant=variant, stale_refs=stale)
    stuck = (plan.counts > targets + 2).nonzero().squeeze(1).tolist()
    if warn and stuck:
        details = ", ".join(f"mesh {b}: {int(plan.counts[b])} > {int(targets[b])}" for b in stuck)
        warnings.warn(
            f"MeshPool: no valid edge collapse left before the target ({details}); "
            "pooling stopped there",
            RuntimeWarning,
            stacklevel=2,
        )
    device = x.device
    members = plan.members.to(device)
    num_out = plan.kept.shape[0]
    pooled = scatter(x[members[:, 0]], members[:, 1], num_out, "mean")
    out_ptr = torch.cat([plan.counts.new_zeros(1), plan.counts.cumsum(0)])
    pooled_mesh = MeshBatch(
        edges=plan.edges.to(device),
        gemm=plan.gemm.to(device),
        sides=plan.sides.to(device),
        vertices=plan.vertices.to(device),
        edge_ptr=out_ptr.to(device),
        vertex_ptr=mesh.vertex_ptr,
        stale_refs=plan.stale_refs.to(device) if variant == "official" else None,
    )
    record = PoolRecord(members, mesh.num_edges, plan.counts, targets, plan.kept.to(device))
    return pooled, pooled_mesh, record


def mesh_unpool(y: torch.Tensor, record: PoolRecord) -> torch.Tensor:
    """``y (E', C)`` back to the ``record.num_input_edges`` edges before the pooling: each
    edge receives the mean of the pooled edges whose groups hold it.

    The official ``MeshUnpool`` divides by the number of groups that ever held the edge,
    removed edges' groups included, so an edge absorbed by a survivor receives only part of
    its feature (half, for a side edge of a collapse); we average over the surviving groups
    so that a constant feature unpools to itself.
    """
    if y.dim() != 2 or y.shape[0] != int(record.counts.sum()):
        raise ValueError(
            f"MeshUnpool expects 'y' of shape ({int(record.counts.sum())}, C) (got "
            f"{tuple(y.shape)})"
        )
    members = record.members.to(y.device)
    return scatter(y[members[:, 1]], members[:, 0], record.num_input_edges, "mean")


class MeshPool(nn.Module):
    """:func:`mesh_pool` as a layer: ``(x, mesh) -> (pooled, pooled mesh, record)``."""

    def __init__(self, target: int | float, variant: str = "official"):
        super().__init__()
        pool_targets(torch.zeros(1, dtype=torch.int64), target)  # validate early
        if variant not in VARIANTS:
            raise ValueError(f"MeshPool 'variant' must be one of {VARIANTS} (got {variant!r})")
        self.target = target
        self.variant = variant

    def forward(self, x: torch.Tensor, mesh: MeshBatch):
        return mesh_pool(x, mesh, self.target, variant=self.variant)

    def extra_repr(self) -> str:
        return f"target={self.target}, variant={self.variant!r}"


class MeshUnpool(nn.Module):
    """:func:`mesh_unpool` as a layer: ``(y, record) -> (E, C)``."""

    def forward(self, y: torch.Tensor, record: PoolRecord) -> torch.Tensor:
        return mesh_unpool(y, record)
