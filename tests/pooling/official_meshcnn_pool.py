"""A test oracle: the official MeshCNN pooling (``models/layers/mesh_pool.py``, ``mesh.py``
and ``mesh_union.py`` of the paper's release) modelled step by step in its own data layout,
written for geo3d's tests from reading that code.

It shares no code with :mod:`geo3d.ops.edge_collapse` and keeps the state the way the
official code does, so that it checks geo3d's condensed bookkeeping (``refs`` lists and
per-vertex ``stale_refs`` counts) rather than repeating it:

- numpy arrays ``edges``, ``gemm``, ``sides`` and plain Python incident-edge lists ``ve``
  that persist from one pooling to the next;
- a vertex merge renames the vertex with a whole-array assignment over every edge row;
- a removed triplet's edges are only masked (never taken out of ``ve``);
- a dense ``E x E`` union matrix, rows added at the time of each union, clamped to 0/1,
  and the pooled features its column means;
- ``clean`` maps every edge id left in a list through a table that sends dead edges to 0.

Where the official code would assert or raise, :class:`OfficialCrash` is raised: the
comparison covers the meshes the official code accepts.
"""

from __future__ import annotations

from heapq import heapify, heappop

import numpy as np
import torch


class OfficialCrash(Exception):
    """Where the official code stops with an assertion or an exception."""


class OfficialMeshState:
    """One mesh as the official ``Mesh`` object holds it between poolings."""

    def __init__(self, edges, gemm, sides, vertices):
        self.edges = np.array(edges, dtype=np.int64).reshape(-1, 2)
        self.gemm = np.array(gemm, dtype=np.int64).reshape(-1, 4)
        self.sides = np.array(sides, dtype=np.int64).reshape(-1, 4)
        self.vs = np.array(vertices, dtype=np.float64).reshape(-1, 3)
        self.v_mask = np.ones(len(self.vs), dtype=bool)
        self.edges_count = len(self.edges)
        self.ve = [[] for _ in range(len(self.vs))]
        for e, (a, b) in enumerate(self.edges):
            self.ve[a].append(e)
            self.ve[b].append(e)

    # -- one pooling layer ----------------------------------------------------------------
    def pool(self, features: torch.Tensor, target: int, stop_when_dry: bool = False):
        """``features (C, E)`` float32 -> ``(pooled (C, E'), kept ids (E',))``.

        ``stop_when_dry``: where the official ``heappop`` raises on an empty queue, stop
        there instead (geo3d's documented deviation) rather than raise."""
        squared = torch.sum(features * features, 0).tolist()
        heap = [[value, float(e)] for e, value in enumerate(squared)]
        heapify(heap)
        mask = np.ones(self.edges_count, dtype=bool)
        union = torch.eye(self.edges_count, dtype=torch.float64)
        while self.edges_count > target:
            if not heap:
                if stop_when_dry:
                    break
                raise OfficialCrash("heappop from an empty queue")
            _, edge = heappop(heap)
            edge = int(edge)
            if mask[edge]:
                self._pool_edge(edge, mask, union, target)
        kept = np.nonzero(mask)[0]
        self._clean(mask)
        groups = union[torch.from_numpy(mask)].clamp(0, 1).t()  # (E, E')
        pooled = features.double() @ groups / groups.sum(0)
        return pooled, kept

    def _pool_edge(self, edge, mask, union, target):
        if self._has_boundaries(edge):
            return
        if not (
            self._clean_side(edge, mask, union, 0, target)
            and self._clean_side(edge, mask, union, 2, target)
            and self._one_ring_valid(edge)
        ):
            return
        self._pool_side(edge, mask, union, 0)
        self._pool_side(edge, mask, union, 2)
        self._merge_vertices(edge)
        mask[edge] = False
        self.edges_count -= 1

    def _clean_side(self, edge, mask, union, side, target):
        if self.edges_count <= target:
            return False
        invalid = self._invalids(edge, union, side)
        while invalid and self.edges_count > target:
            self._remove_triplet(mask, invalid)
            if self.edges_count <= target or self._has_boundaries(edge):
                return False
            invalid = self._invalids(edge, union, side)
        return True

    def _has_boundaries(self, edge):
        return any(n == -1 or -1 in self.gemm[n] for n in self.gemm[edge])

    def _one_ring_valid(self, edge):
        a, b = self.edges[edge]
        ring_a = set(self.edges[self.ve[a]].reshape(-1).tolist())
        ring_b = set(self.edges[self.ve[b]].reshape(-1).tolist())
        return len(ring_a & ring_b - {int(a), int(b)}) == 2

    def _face(self, edge, side):
        key_a, key_b = self.gemm[edge, side], self.gemm[edge, side + 1]
        side_a, side_b = self.sides[edge, side], self.sides[edge, side + 1]
        other_a, other_b = (side_a - side_a % 2 + 2) % 4, (side_b - side_b % 2 + 2) % 4
        keys_a = [self.gemm[key_a, other_a], self.gemm[key_a, other_a + 1]]
        keys_b = [self.gemm[key_b, other_b], self.gemm[key_b, other_b + 1]]
        return key_a, key_b, side_a, other_a, other_b, keys_a, keys_b

    def _invalids(self, edge, union, side):
        key_a, key_b, _, other_a, other_b, keys_a, keys_b = self._face(edge, side)
        shared = [(i, j) for i in range(2) for j in range(2) if keys_a[i] == keys_b[j]]
        if not shared:
            return []
        if len(shared) != 1:
            raise OfficialCrash("assert len(shared_items) == 2")
        i, j = shared[0]
        middle = keys_a[i]
        # The official code checks the triplet's vertex only later, after re-linking;
        # checked here so that a crash leaves nothing half done.
        centre = set(self.edges[key_a]) & set(self.edges[key_b]) & set(self.edges[middle])
        if len(centre) != 1:
            raise OfficialCrash("assert len(vertex) == 1")
        update_a, update_b = keys_a[1 - i], keys_b[1 - j]
        update_side_a = self.sides[key_a, other_a + 1 - i]
        update_side_b = self.sides[key_b, other_b + 1 - j]
        self._link(edge, side, update_a, update_side_a)
        self._link(edge, side + 1, update_b, update_side_b)
        self._link(update_a, _flip(update_side_a), update_b, _flip(update_side_b))
        for source, target in (
            (key_a, edge),
            (key_b, edge),
            (key_a, update_a),
            (middle, update_a),
            (key_b, update_b),
            (middle, update_b),
        ):
            union[target] += union[source]
        return [key_a, key_b, middle]

    def _remove_triplet(self, mask, invalid):
        vertex = set(self.edges[invalid[0]].tolist())
        for key in invalid:
            vertex &= set(self.edges[key].tolist())
            mask[key] = False  # and nothing leaves self.ve
        self.edges_count -= 3
        self.v_mask[vertex.pop()] = False

    def _pool_side(self, edge, mask, union, side):
        key_a, key_b, side_a, _, other_b, _, keys_b = self._face(edge, side)
        base = side_a - side_a % 2
        self._link(key_a, base, keys_b[0], self.sides[key_b, other_b])
        self._link(key_a, base + 1, keys_b[1], self.sides[key_b, other_b + 1])
        union[key_a] += union[key_b]
        union[key_a] += union[edge]
        mask[key_b] = False
        self._remove_edge(key_b)
        self.edges_count -= 1

    def _merge_vertices(self, edge):
        self._remove_edge(edge)
        keep, gone = (int(x) for x in self.edges[edge])
        self.vs[keep] = (self.vs[keep] + self.vs[gone]) / 2
        self.v_mask[gone] = False
        self.ve[keep].extend(self.ve[gone])
        self.edges[self.edges == gone] = keep

    def _remove_edge(self, edge):
        for v in self.edges[edge]:
            if edge not in self.ve[v]:
                raise OfficialCrash("list.remove(x): x not in list")
            self.ve[v].remove(edge)

    def _link(self, a, side_a, b, side_b):
        self.gemm[a, side_a], self.gemm[b, side_b] = b, a
        self.sides[a, side_a], self.sides[b, side_b] = side_b, side_a

    def _clean(self, mask):
        self.edges, self.gemm, self.sides = self.edges[mask], self.gemm[mask], self.sides[mask]
        new_index = np.zeros(len(mask) + 1, dtype=np.int64)
        new_index[-1] = -1
        new_index[np.append(mask, False)] = np.arange(int(mask.sum()))
        self.gemm = new_index[self.gemm]
        self.ve = [[int(new_index[e]) for e in lst] for lst in self.ve]


def _flip(side):
    return side + 1 - 2 * (side % 2)
