"""Neighbour search: k nearest neighbours and ball query."""

from __future__ import annotations

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference


def pairwise_squared_distances(query: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """``(B, Q, 3), (B, N, 3) -> (B, Q, N)`` squared distances, summed in the kernels' order.

    Deliberately not ``|q|^2 - 2 q.s + |s|^2`` (cancellation makes near neighbours wrong).
    """
    diff = query.unsqueeze(2) - support.unsqueeze(1)  # (B, Q, N, 3)
    return diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1] + diff[..., 2] * diff[..., 2]


def _valid_mask(lengths: torch.Tensor, size: int) -> torch.Tensor:
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


@register_reference("knn")
def knn_reference(query, support, query_lengths, support_lengths, k):
    """Brute-force kNN with a stable sort (ties to the lower index); see :func:`knn`."""
    batch, num_queries, _ = query.shape
    num_support = support.shape[1]
    dist = pairwise_squared_distances(query, support)  # (B, Q, N)
    support_valid = _valid_mask(support_lengths, num_support)  # (B, N)
    dist = dist.masked_fill(~support_valid[:, None, :], torch.inf)
    dist, idx = dist.sort(dim=-1, stable=True)
    dist, idx = dist[..., :k], idx[..., :k]
    if num_support < k:  # fewer candidates than k: pad the slots
        pad = k - num_support
        dist = torch.cat([dist, dist.new_full((batch, num_queries, pad), torch.inf)], dim=-1)
        idx = torch.cat([idx, idx.new_full((batch, num_queries, pad), -1)], dim=-1)
    slot = torch.arange(k, device=query.device)
    missing = slot[None, None, :] >= support_lengths[:, None, None]  # (B, 1, k)
    missing = missing | ~_valid_mask(query_lengths, num_queries)[:, :, None]  # (B, Q, k)
    dist = dist.masked_fill(missing, torch.inf)
    idx = idx.masked_fill(missing, -1)
    return dist.contiguous(), idx.contiguous()


@torch.library.register_fake("geo3d::knn")
def _knn_fake(query, support, query_lengths, support_lengths, k):
    batch, num_queries, _ = query.shape
    return (
        query.new_empty((batch, num_queries, k)),
        query.new_empty((batch, num_queries, k), dtype=torch.int64),
    )


def _check_pair(query, support, query_lengths, support_lengths):
    _checks.check_points("query", query)
    _checks.check_points("support", support)
    _checks.check_same_device_dtype("query", query, "support", support)
    if query.shape[0] != support.shape[0]:
        raise ValueError(
            f"'query' and 'support' must have the same batch size (got {query.shape[0]} and "
            f"{support.shape[0]})"
        )
    _checks.check_nonempty("support", support)
    query_lengths = _checks.resolve_lengths("query_lengths", query_lengths, query)
    support_lengths = _checks.resolve_lengths("support_lengths", support_lengths, support)
    _checks.check_finite("query", query, query_lengths)
    _checks.check_finite("support", support, support_lengths)
    return query.contiguous(), support.contiguous(), query_lengths, support_lengths


def knn(
    query: torch.Tensor,
    support: torch.Tensor,
    k: int,
    query_lengths: torch.Tensor | None = None,
    support_lengths: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact k nearest neighbours by squared Euclidean distance.

    Args:
        query: (B, Q, 3) float32/float64 points.
        support: (B, N, 3) points of the same dtype and device.
        k: number of neighbours, >= 1; may exceed a cloud's size.
        query_lengths, support_lengths: (B,) int real sizes (default: full).

    Returns:
        ``dist2 (B, Q, k)`` ascending squared distances and ``idx (B, Q, k)`` int64
        indices into N; ties go to the lower index. Slots past a support cloud's size,
        and rows past a query cloud's size, hold ``inf`` and ``-1``.

    The CPU kernel searches a kd-tree built per cloud, in parallel over queries.
    Neither output carries a gradient: gather coordinates with
    :func:`gather_points` and recompute distances where a gradient is needed.
    """
    _checks.check_positive_int("k", k)
    query, support, query_lengths, support_lengths = _check_pair(
        query, support, query_lengths, support_lengths
    )
    return op("knn")(query, support, query_lengths, support_lengths, k)


@register_reference("ball_query")
def ball_query_reference(query, support, query_lengths, support_lengths, radius, max_neighbors):
    """Brute-force ball query; see :func:`ball_query`."""
    num_queries, num_support = query.shape[1], support.shape[1]
    dist = pairwise_squared_distances(query, support)  # (B, Q, N)
    inside = dist < radius * radius
    inside &= _valid_mask(support_lengths, num_support)[:, None, :]
    inside &= _valid_mask(query_lengths, num_queries)[:, :, None]
    rank = inside.long().cumsum(dim=-1) - 1  # position among the points inside
    keep = inside & (rank < max_neighbors)
    b, q, n = keep.nonzero(as_tuple=True)
    idx = query.new_full((query.shape[0], num_queries, max_neighbors), -1, dtype=torch.int64)
    idx[b, q, rank[b, q, n]] = n
    return idx


@torch.library.register_fake("geo3d::ball_query")
def _ball_query_fake(query, support, query_lengths, support_lengths, radius, max_neighbors):
    return query.new_empty((query.shape[0], query.shape[1], max_neighbors), dtype=torch.int64)


def ball_query(
    query: torch.Tensor,
    support: torch.Tensor,
    radius: float,
    max_neighbors: int,
    query_lengths: torch.Tensor | None = None,
    support_lengths: torch.Tensor | None = None,
) -> torch.Tensor:
    """The first ``max_neighbors`` support points, in index order, inside a ball.

    A support point is inside when its squared distance to the query is strictly less
    than ``radius ** 2`` (the comparison is made in the points' dtype).

    Args:
        query: (B, Q, 3) float32/float64 points; support: (B, N, 3).
        radius: positive ball radius; max_neighbors: >= 1 slots per query.

    Returns:
        ``idx (B, Q, max_neighbors)`` int64, ``-1`` after the last neighbour found.
        Unlike PointNet++'s kernel, empty slots are not filled with the first
        neighbour: use ``-1`` as the mask (``gather_points`` reads zeros there).
    """
    radius = _checks.check_positive_float("radius", radius)
    _checks.check_positive_int("max_neighbors", max_neighbors)
    query, support, query_lengths, support_lengths = _check_pair(
        query, support, query_lengths, support_lengths
    )
    return op("ball_query")(query, support, query_lengths, support_lengths, radius, max_neighbors)
