"""MeshCNN's edge-collapse planning (Hanocka et al., SIGGRAPH 2019, section 3.3; the official
``models/layers/mesh_pool.py``): which edges survive a pooling layer and which input
edges each survivor averages.

Per mesh, edges are visited once in increasing ``(priority, edge id)`` order (the official
heap of squared feature norms, computed once per layer); each visited edge that is still
alive is collapsed unless a rule forbids it, until the edge count is at most the target:

- an edge that has a boundary edge among its four neighbours, or is one, is skipped;
- on each side, while the two other edges of the side's neighbour faces share an edge (a
  valence-3 vertex: a "triplet"), the triplet's three edges and its vertex are removed
  and the neighbourhood is re-linked;
- the link condition: the one-rings of the two endpoints must share exactly two vertices;
- a collapse removes the edge and, on each side, one of the two side edges (the other
  survives and takes over its links); the endpoints merge at their midpoint.

Every removal records unions ``group[target] |= group[source]`` exactly where the official
code calls ``union(source, target)`` (the ``MeshUnion`` of the original release: a row
copied at the time of the union, membership clamped to 0/1); a survivor's pooled feature
is the mean of the input features in its group.

Two variants of the rules (``variant``):

- ``"official"`` (the default, for equivalence with the paper and its trained weights)
  reproduces the official bookkeeping, quirks included. A removed triplet's three edges
  stay in their vertices' incident-edge lists (``Mesh.ve``; the official
  ``__remove_triplete`` never calls ``remove_edge``), so later link conditions count
  the deleted vertex and reject valid collapses (and, rarely, accept one where the real
  rings fail): the edge whose side was cleaned almost never collapses itself, as both
  its endpoints still list an edge to the deleted vertex.
  A vertex merge renames the vertex in every edge row, dead ones included (the official
  ``self.edges[mask] = edge[0]``), which the stale entries then read. Across layers, the
  official ``Mesh.clean`` maps every dead edge id left in a list to 0, so each stale
  entry becomes a reference to the pooled mesh's first edge; ``stale_refs`` carries
  their count per vertex from one pooling to the next (:class:`CollapsePlan`). A triplet
  centre is removed whatever its valence (at a pinch the official code deletes the
  vertex under its other edges, and so do we).
- ``"exact"`` reads the current one-rings: removed edges leave the lists, a triplet must
  be a valence-3 vertex (else the edge is skipped), and no state crosses layers. It
  accepts the collapses the official lists wrongly refuse.

Where both differ from the official code on purpose (each would crash it):
- when the queue runs out before the target, pooling stops and reports the count reached
  (the official ``heappop`` raises on the empty heap);
- a triplet whose three edges do not meet in exactly one vertex, or a side whose
  neighbour faces share more than one edge, skips the edge (the official code asserts).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import torch

from geo3d.ops._library import op, register_reference

VARIANTS = ("official", "exact")


@dataclass(frozen=True)
class CollapsePlan:
    """The result of :func:`plan_edge_collapse` for a packed batch of meshes.

    Attributes:
        kept: ``(E',)`` int64 input edge of every output edge, mesh after mesh.
        edges: ``(E', 2)`` int64 vertex ids of the output edges (the vertex array keeps
            its size; merged-away vertices are dead in ``vertex_alive``).
        gemm: ``(E', 4)`` int64 neighbours as output edge ids, ``-1`` at boundaries.
        sides: ``(E', 4)`` int64, where each neighbour lists the edge back.
        members: ``(M, 2)`` int64 ``(input edge, output edge)`` pairs, sorted by output
            edge: the groups whose means are the pooled features.
        vertices: ``(V, 3)`` vertex positions after the merges (midpoints).
        vertex_alive: ``(V,)`` bool.
        counts: ``(B,)`` int64 edges per mesh after pooling.
        stale_refs: ``(V,)`` int64, ``"official"`` only (zeros for ``"exact"``): how many
            stale entries each vertex's incident-edge list holds, each of which the next
            pooling reads as the first edge of the vertex's mesh (module docstring). Pass
            it to that pooling to continue the official sequence.
    """

    kept: torch.Tensor
    edges: torch.Tensor
    gemm: torch.Tensor
    sides: torch.Tensor
    members: torch.Tensor
    vertices: torch.Tensor
    vertex_alive: torch.Tensor
    counts: torch.Tensor
    stale_refs: torch.Tensor


class _MeshCollapse:
    """The planning of one mesh, in plain Python: the readable twin of the native kernel.

    ``ve[v]`` is the official incident-edge list (a multiset: in ``"official"`` it keeps
    stale entries). The official merge renames the vertex in every edge row; the rows ever
    read again are those in some list and, in ``"official"``, row 0 (the carried stale
    entries read it even after edge 0 died), so those are the rows a merge renames.
    """

    def __init__(self, edges, gemm, sides, num_vertices, vertices, official, stale_refs):
        self.official = official
        self.edges = [list(e) for e in edges]
        self.gemm = [list(g) for g in gemm]
        self.sides = [list(s) for s in sides]
        self.alive = [True] * len(edges)
        self.count = len(edges)
        self.groups: list[set | None] = [{e} for e in range(len(edges))]
        self.ve: list[list[int]] = [[] for _ in range(num_vertices)]
        for e, (a, b) in enumerate(self.edges):
            self.ve[a].append(e)
            self.ve[b].append(e)
        if official and self.edges:
            for v, n in enumerate(stale_refs):
                self.ve[v].extend([0] * n)
        self.vertices = [list(v) for v in vertices]
        self.vertex_alive = [True] * num_vertices

    def run(self, priority, target):
        heap = [(p, e) for e, p in enumerate(priority)]
        heapq.heapify(heap)
        while self.count > target and heap:
            _, e = heapq.heappop(heap)
            if self.alive[e]:
                self.collapse(e, target)

    def stale_refs(self):
        """Per vertex, the entries of its list that are not its live edges."""
        degree = [0] * len(self.ve)
        for e, (a, b) in enumerate(self.edges):
            if self.alive[e]:
                degree[a] += 1
                degree[b] += 1
        return [len(lst) - d for lst, d in zip(self.ve, degree)]

    # -- the official rules -------------------------------------------------------------
    def has_boundary(self, e):
        return any(n < 0 or -1 in self.gemm[n] for n in self.gemm[e])

    def collapse(self, e, target):
        if self.has_boundary(e):
            return
        if not (self.clean_side(e, 0, target) and self.clean_side(e, 2, target)):
            return
        if not self.link_condition(e):
            return
        self.pool_side(e, 0)
        self.pool_side(e, 2)
        self.kill(e)
        self.merge_vertices(e)

    def clean_side(self, e, side, target):
        if self.count <= target:
            return False
        while True:
            invalid = self.find_triplet(e, side)
            if invalid is None:
                return False  # a configuration the rules cannot handle: skip the edge
            if not invalid:
                return True
            self.remove_triplet(invalid)
            if self.count <= target or self.has_boundary(e):
                return False

    def face_info(self, e, side):
        key_a, key_b = self.gemm[e][side], self.gemm[e][side + 1]
        side_a, side_b = self.sides[e][side], self.sides[e][side + 1]
        other_a = (side_a - side_a % 2 + 2) % 4
        other_b = (side_b - side_b % 2 + 2) % 4
        keys_a = [self.gemm[key_a][other_a], self.gemm[key_a][other_a + 1]]
        keys_b = [self.gemm[key_b][other_b], self.gemm[key_b][other_b + 1]]
        return key_a, key_b, other_a, other_b, keys_a, keys_b

    def find_triplet(self, e, side):
        """``[]`` if the side is clean, the triplet's edges after re-linking around it, or
        ``None`` where the official code would assert (or, for ``"exact"``, at a pinch)."""
        key_a, key_b, other_a, other_b, keys_a, keys_b = self.face_info(e, side)
        shared = [(i, j) for i in range(2) for j in range(2) if keys_a[i] == keys_b[j]]
        if not shared:
            return []
        if len(shared) != 1:
            return None
        i, j = shared[0]
        middle = keys_a[i]
        center = set(self.edges[key_a]) & set(self.edges[key_b]) & set(self.edges[middle])
        if len(center) != 1:
            return None
        if not self.official and len(self.ve[next(iter(center))]) != 3:
            return None  # not a valence-3 vertex (a pinch: several fans meet there)
        update_a, update_b = keys_a[1 - i], keys_b[1 - j]
        update_side_a = self.sides[key_a][other_a + 1 - i]
        update_side_b = self.sides[key_b][other_b + 1 - j]
        self.redirect(e, side, update_a, update_side_a)
        self.redirect(e, side + 1, update_b, update_side_b)
        self.redirect(update_a, _other_side(update_side_a), update_b, _other_side(update_side_b))
        for source, target in (
            (key_a, e),
            (key_b, e),
            (key_a, update_a),
            (middle, update_a),
            (key_b, update_b),
            (middle, update_b),
        ):
            self.union(source, target)
        return [key_a, key_b, middle]

    def remove_triplet(self, invalid):
        vertex = set(self.edges[invalid[0]])
        for key in invalid:
            vertex &= set(self.edges[key])
        for key in invalid:
            self.kill(key, leave_lists=not self.official)
        (v,) = vertex
        self.vertex_alive[v] = False

    def link_condition(self, e):
        a, b = self.edges[e]
        ring_a = {x for k in self.ve[a] for x in self.edges[k]}
        ring_b = {x for k in self.ve[b] for x in self.edges[k]}
        return len((ring_a & ring_b) - {a, b}) == 2

    def pool_side(self, e, side):
        key_a, key_b, _, other_b, _, keys_b = self.face_info(e, side)
        side_a = self.sides[e][side]
        base = side_a - side_a % 2
        self.redirect(key_a, base, keys_b[0], self.sides[key_b][other_b])
        self.redirect(key_a, base + 1, keys_b[1], self.sides[key_b][other_b + 1])
        self.union(key_b, key_a)
        self.union(e, key_a)
        self.kill(key_b)

    def merge_vertices(self, e):
        """Endpoint ``w`` of the (already removed) edge ``e`` merges into ``u``."""
        u, w = self.edges[e]
        self.vertices[u] = [(p + q) / 2 for p, q in zip(self.vertices[u], self.vertices[w])]
        self.vertex_alive[w] = False
        renamed = set(self.ve[w]) | ({0} if self.official and self.edges else set())
        for k in renamed:
            self.edges[k] = [u if x == w else x for x in self.edges[k]]
        self.ve[u].extend(self.ve[w])
        self.ve[w] = []

    # -- bookkeeping ----------------------------------------------------------------------
    def redirect(self, a, side_a, b, side_b):
        self.gemm[a][side_a], self.gemm[b][side_b] = b, a
        self.sides[a][side_a], self.sides[b][side_b] = side_b, side_a

    def union(self, source, target):
        self.groups[target] = self.groups[target] | self.groups[source]

    def kill(self, e, leave_lists=True):
        self.alive[e] = False
        self.count -= 1
        self.groups[e] = None
        if leave_lists:
            for v in set(self.edges[e]):
                if e in self.ve[v]:
                    self.ve[v].remove(e)


def _other_side(side):
    return side + 1 - 2 * (side % 2)


@register_reference("edge_collapse")
def edge_collapse_reference(
    edges, gemm, sides, priority, vertices, edge_ptr, vertex_ptr, targets, stale_refs, official
):
    """See :func:`plan_edge_collapse`; returns the fields of :class:`CollapsePlan` in order."""
    outputs = {k: [] for k in ("kept", "edges", "gemm", "sides", "members")}
    new_vertices = vertices.clone()
    vertex_alive = torch.ones(vertices.shape[0], dtype=torch.bool)
    stale_out = torch.zeros(vertices.shape[0], dtype=torch.int64)
    counts, out_offset = [], 0
    for b in range(edge_ptr.shape[0] - 1):
        e0, e1 = int(edge_ptr[b]), int(edge_ptr[b + 1])
        v0, v1 = int(vertex_ptr[b]), int(vertex_ptr[b + 1])
        local_gemm = torch.where(gemm[e0:e1] >= 0, gemm[e0:e1] - e0, -1)
        mesh = _MeshCollapse(
            (edges[e0:e1] - v0).tolist(),
            local_gemm.tolist(),
            sides[e0:e1].tolist(),
            v1 - v0,
            vertices[v0:v1].tolist(),
            official,
            stale_refs[v0:v1].tolist(),
        )
        mesh.run(priority[e0:e1].tolist(), int(targets[b]))
        kept = [e for e in range(e1 - e0) if mesh.alive[e]]
        new_index = {e: out_offset + i for i, e in enumerate(kept)}
        new_index[-1] = -1
        outputs["kept"] += [e0 + e for e in kept]
        outputs["edges"] += [[v0 + x for x in mesh.edges[e]] for e in kept]
        outputs["gemm"] += [[new_index[n] for n in mesh.gemm[e]] for e in kept]
        outputs["sides"] += [mesh.sides[e] for e in kept]
        outputs["members"] += [[e0 + m, new_index[e]] for e in kept for m in sorted(mesh.groups[e])]
        new_vertices[v0:v1] = torch.tensor(mesh.vertices, dtype=vertices.dtype).reshape(-1, 3)
        vertex_alive[v0:v1] = torch.tensor(mesh.vertex_alive, dtype=torch.bool)
        stale_out[v0:v1] = torch.tensor(mesh.stale_refs(), dtype=torch.int64)
        counts.append(len(kept))
        out_offset += len(kept)
    as_long = lambda rows, width: torch.tensor(rows, dtype=torch.int64).reshape(-1, width)  # noqa: E731
    return (
        torch.tensor(outputs["kept"], dtype=torch.int64),
        as_long(outputs["edges"], 2),
        as_long(outputs["gemm"], 4),
        as_long(outputs["sides"], 4),
        as_long(outputs["members"], 2),
        new_vertices,
        vertex_alive,
        torch.tensor(counts, dtype=torch.int64),
        stale_out,
    )


@torch.library.register_fake("geo3d::edge_collapse")
def _edge_collapse_fake(
    edges, gemm, sides, priority, vertices, edge_ptr, vertex_ptr, targets, stale_refs, official
):
    ctx = torch.library.get_ctx()
    kept = ctx.new_dynamic_size()
    members = ctx.new_dynamic_size()
    return (
        edges.new_empty((kept,)),
        edges.new_empty((kept, 2)),
        edges.new_empty((kept, 4)),
        edges.new_empty((kept, 4)),
        edges.new_empty((members, 2)),
        torch.empty_like(vertices),
        vertices.new_empty((vertices.shape[0],), dtype=torch.bool),
        edges.new_empty((edge_ptr.shape[0] - 1,)),
        torch.empty_like(stale_refs),
    )


def _check_long(name, t, shape_desc, dims, last=None):
    if not isinstance(t, torch.Tensor) or t.dtype != torch.int64 or t.dim() != dims:
        raise ValueError(f"Expected int64 '{name}' of shape {shape_desc}")
    if last is not None and t.shape[-1] != last:
        raise ValueError(f"Expected '{name}' of shape {shape_desc} (got {tuple(t.shape)})")


def plan_edge_collapse(
    edges: torch.Tensor,
    gemm: torch.Tensor,
    sides: torch.Tensor,
    priority: torch.Tensor,
    vertices: torch.Tensor,
    edge_ptr: torch.Tensor,
    vertex_ptr: torch.Tensor,
    targets: torch.Tensor,
    *,
    variant: str = "official",
    stale_refs: torch.Tensor | None = None,
) -> CollapsePlan:
    """Plan MeshCNN's edge collapses for a packed batch of meshes (module docstring).

    Args:
        edges: ``(E, 2)`` int64 vertex ids into the packed ``vertices``.
        gemm: ``(E, 4)`` int64 packed edge ids of the four neighbours, ``-1`` at boundaries.
        sides: ``(E, 4)`` int64: the slot in which each neighbour lists the edge.
        priority: ``(E,)`` float, smallest collapsed first (MeshCNN: the squared L2 norm of
            the edge's features).
        vertices: ``(V, 3)`` float positions (merged at midpoints, for display).
        edge_ptr, vertex_ptr: ``(B + 1,)`` int64 offsets of each mesh's edges and vertices.
        targets: ``(B,)`` int64 edge count to reach per mesh.
        variant: ``"official"`` (the official bookkeeping, quirks included) or ``"exact"``
            (current one-rings); see the module docstring.
        stale_refs: ``(V,)`` int64, ``"official"`` only: the previous pooling's
            :attr:`CollapsePlan.stale_refs` (``None``: a freshly built mesh, none).

    All on the CPU (the planning is sequential integer work). The native kernel plans the
    meshes in parallel; memory is linear in the edge count.
    """
    if variant not in VARIANTS:
        raise ValueError(f"'variant' must be one of {VARIANTS} (got {variant!r})")
    for name, t, desc, dims, last in (
        ("edges", edges, "(E, 2)", 2, 2),
        ("gemm", gemm, "(E, 4)", 2, 4),
        ("sides", sides, "(E, 4)", 2, 4),
        ("edge_ptr", edge_ptr, "(B + 1,)", 1, None),
        ("vertex_ptr", vertex_ptr, "(B + 1,)", 1, None),
        ("targets", targets, "(B,)", 1, None),
    ):
        _check_long(name, t, desc, dims, last)
    num_edges = edges.shape[0]
    if gemm.shape[0] != num_edges or sides.shape[0] != num_edges or priority.shape != (num_edges,):
        raise ValueError(f"'gemm', 'sides' and 'priority' must have one row per edge ({num_edges})")
    if edge_ptr.shape != vertex_ptr.shape or targets.shape[0] != edge_ptr.shape[0] - 1:
        raise ValueError("'edge_ptr', 'vertex_ptr' (B + 1,) and 'targets' (B,) disagree in B")
    if not priority.dtype.is_floating_point or not bool(torch.isfinite(priority).all()):
        raise ValueError("'priority' must be finite floats (NaN features reach MeshPool?)")
    if vertices.dim() != 2 or vertices.shape[1] != 3 or not vertices.dtype.is_floating_point:
        raise ValueError(f"Expected float 'vertices' of shape (V, 3) (got {tuple(vertices.shape)})")
    if bool((targets < 0).any()):
        raise ValueError(f"'targets' must be non-negative (got {targets.tolist()})")
    if stale_refs is None:
        stale_refs = torch.zeros(vertices.shape[0], dtype=torch.int64, device=vertices.device)
    _check_long("stale_refs", stale_refs, "(V,)", 1)
    if stale_refs.shape[0] != vertices.shape[0] or bool((stale_refs < 0).any()):
        raise ValueError(
            f"'stale_refs' must hold one non-negative count per vertex ({vertices.shape[0]})"
        )
    if variant == "exact" and bool(stale_refs.any()):
        raise ValueError("'stale_refs' is official bookkeeping: the exact variant takes none")
    tensors = (edges, gemm, sides, priority, vertices, edge_ptr, vertex_ptr, targets, stale_refs)
    if any(t.device.type != "cpu" for t in tensors):
        raise ValueError("plan_edge_collapse works on CPU tensors (move the mesh topology there)")
    outputs = op("edge_collapse")(*(t.contiguous() for t in tensors), variant == "official")
    return CollapsePlan(*outputs)
