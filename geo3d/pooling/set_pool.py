"""Reducing sets to one feature: kNN groups ``(..., K, C)`` with an optional mask, and packed
segments ``(N, C)`` given by an index (voxels, clouds). One vocabulary for both:

- ``max``, ``mean``: per channel over the real members;
- ``max+mean``: their sum (Point-NN's and Point-PN's local and global pooling);
- ``soft``: SoftPool per channel, ``sum_i softmax(a)_i a_i`` over the members (Stergiou et
  al., ICCV 2021), with the maximum subtracted (no overflow) and the exact gradient;
- ``attention``: :class:`AttentionPool`, a learned query attending over the members
  (PVTransformer's point-to-voxel attention; a global attention pooling for heads).

Empty sets (a fully masked group, an empty segment) give zeros.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from geo3d.ops import scatter
from geo3d.ops.soft_pool import soft_window_reduce
from geo3d.pooling.slot_rows import SlotRows, rows_max, rows_mean, rows_softmax_sum

POOLINGS = ("max", "mean", "max+mean", "soft", "attention")
_STATELESS = ("max", "mean", "max+mean", "soft")


def _renamed(old: str, value, new_value, where: str):
    """The value of a keyword renamed to ``pooling``, warning when the old name was used."""
    if value is None:
        return new_value
    warnings.warn(
        f"{where}: '{old}' is called 'pooling' now; the old name goes in the next release",
        DeprecationWarning,
        stacklevel=3,
    )
    return value


def pool_groups(
    x: torch.Tensor,
    pooling: str | None = None,
    mask: torch.Tensor | None = None,
    *,
    mode: str | None = None,
) -> torch.Tensor:
    """``x (..., K, C)`` to ``(..., C)`` by ``max``, ``mean``, ``max+mean`` or ``soft``;
    ``mask (..., K)`` True for real members (None: all real). (``mode``: the old name of
    ``pooling``.)"""
    pooling = _renamed("mode", mode, pooling, "pool_groups")
    if pooling not in _STATELESS:
        raise ValueError(
            f"'pooling' must be one of {_STATELESS} (got {pooling!r}; attention is a module)"
        )
    if mask is None:
        if pooling == "max":
            return x.amax(dim=-2)
        if pooling == "mean":
            return x.mean(dim=-2)
        if pooling == "max+mean":
            return x.amax(dim=-2) + x.mean(dim=-2)
        return soft_window_reduce(x.transpose(-1, -2))[0]
    if mask.shape != x.shape[:-1]:
        raise ValueError(f"'mask' must have shape {tuple(x.shape[:-1])} (got {tuple(mask.shape)})")
    real = mask[..., None]
    any_real = mask.any(dim=-1, keepdim=True)
    if pooling == "soft":
        out, _ = soft_window_reduce(torch.where(real, x, float("-inf")).transpose(-1, -2))
        return torch.where(any_real, out, 0.0)
    pooled = 0.0
    if pooling in ("max", "max+mean"):  # only what the pooling needs: (..., K, C) is large
        peak = torch.where(real, x, float("-inf")).amax(dim=-2)
        pooled = torch.where(any_real, peak, 0.0)
    if pooling in ("mean", "max+mean"):
        count = mask.sum(dim=-1, keepdim=True).clamp(min=1).to(x.dtype)
        pooled = pooled + torch.where(real, x, 0.0).sum(dim=-2) / count
    return pooled


def pool_segments(
    x: torch.Tensor, index: torch.Tensor, num_segments: int, pooling: str
) -> torch.Tensor:
    """``x (N, C)`` to ``(num_segments, C)``: rows with the same ``index`` form a set;
    ``max``, ``mean``, ``max+mean`` or ``soft`` (native :func:`geo3d.ops.scatter`)."""
    if pooling not in _STATELESS:
        raise ValueError(
            f"'pooling' must be one of {_STATELESS} (got {pooling!r}; attention is a module)"
        )
    if pooling == "max+mean":
        return scatter(x, index, num_segments, "max") + scatter(x, index, num_segments, "mean")
    return scatter(x, index, num_segments, pooling)


class AttentionPool(nn.Module):
    """A set to one feature by multi-head attention with a query per set.

    Keys and values are linear maps of the members; the query is a learned latent
    (``query="latent"``, the same for every set: a global attention pooling when the set is
    a whole cloud) or a linear map of the set's max-pooled feature (``query="residual"``,
    whose max-pooled feature is also added back to the output). Members are masked
    (padded groups) or given by segment (packed voxels); the result does not depend on
    their order (PVTransformer, Leng et al. 2024, section 3: point-to-voxel attention
    instead of PointNet max pooling; it has no public code, so the layout here is ours).

    ``forward(x (..., K, C), mask (..., K) or None) -> (..., C)`` on padded groups;
    ``segments(x (N, C), index (N,), num_segments) -> (S, C)`` on packed sets, without
    padding every set to the largest. Both compute the same function.
    """

    def __init__(self, channels: int, heads: int = 4, query: str = "latent"):
        super().__init__()
        if channels % heads:
            raise ValueError(f"{channels} channels do not split into {heads} heads")
        if query not in ("latent", "residual"):
            raise ValueError(f"'query' must be 'latent' or 'residual' (got {query!r})")
        self.channels, self.heads, self.query_kind = channels, heads, query
        self.key = nn.Linear(channels, channels)
        self.value = nn.Linear(channels, channels)
        self.out = nn.Linear(channels, channels)
        if query == "latent":
            self.latent = nn.Parameter(torch.randn(channels) / math.sqrt(channels))
        else:
            self.query = nn.Linear(channels, channels)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(*t.shape[:-1], self.heads, self.channels // self.heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.shape[-1] != self.channels:
            raise ValueError(f"AttentionPool expects {self.channels} channels (got {x.shape[-1]})")
        if mask is None:
            mask = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
        elif mask.shape != x.shape[:-1]:
            raise ValueError(
                f"'mask' must have shape {tuple(x.shape[:-1])} (got {tuple(mask.shape)})"
            )
        # Masked members must have no effect at all: a NaN or inf there would reach the
        # output through 0 * NaN in the weighted sum.
        x = torch.where(mask[..., None], x, 0.0)
        keys, values = self._split(self.key(x)), self._split(self.value(x))  # (..., K, H, D)
        pooled = pool_groups(x, "max", mask) if self.query_kind == "residual" else None
        query = self._split(self.latent if pooled is None else self.query(pooled))  # (..., H, D)
        scores = (keys * query.unsqueeze(-3)).sum(-1) / math.sqrt(keys.shape[-1])  # (..., K, H)
        scores = scores.masked_fill(~mask[..., None], float("-inf"))
        weights = torch.softmax(scores, dim=-2)
        weights = torch.where(mask[..., None], weights, 0.0)  # fully masked sets: 0, not NaN
        attended = (weights[..., None] * values).sum(dim=-3)  # (..., H, D)
        out = self.out(attended.reshape(*attended.shape[:-2], self.channels))
        out = torch.where(mask.any(dim=-1, keepdim=True), out, 0.0)
        return out if pooled is None else out + pooled

    def segments(self, x: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
        keys, values = self._split(self.key(x)), self._split(self.value(x))  # (N, H, D)
        pooled = scatter(x, index, num_segments, "max") if self.query_kind == "residual" else None
        if pooled is None:
            query = self._split(self.latent).expand(x.shape[0], -1, -1)
        else:
            query = self._split(self.query(pooled))[index]  # (N, H, D)
        scores = (keys * query).sum(-1) / math.sqrt(keys.shape[-1])  # (N, H)
        peak = torch.full((num_segments, self.heads), float("-inf"), dtype=x.dtype, device=x.device)
        peak = peak.scatter_reduce(0, index[:, None].expand_as(scores), scores.detach(), "amax")
        exp = torch.exp(scores - peak[index])
        total = x.new_zeros(num_segments, self.heads).index_add(0, index, exp)
        weights = exp / total[index]
        attended = x.new_zeros(num_segments, self.heads, self.channels // self.heads)
        attended = attended.index_add(0, index, weights[..., None] * values)
        counts = torch.bincount(index, minlength=num_segments)[:, None]
        out = torch.where(counts > 0, self.out(attended.reshape(num_segments, self.channels)), 0.0)
        return out if pooled is None else out + pooled

    def slotted(self, x: torch.Tensor, index: torch.Tensor, rows: SlotRows) -> torch.Tensor:
        """:meth:`segments` through :class:`~geo3d.pooling.slot_rows.SlotRows` (no scatter):
        ``x (N, C)``, ``index (N,)`` each member's set -> ``(S, C)``, the same function."""
        keys, values = self._split(self.key(x)), self._split(self.value(x))  # (N, H, D)
        pooled = rows_max(x, rows) if self.query_kind == "residual" else None
        if pooled is None:
            query = self._split(self.latent).expand(x.shape[0], -1, -1)
        else:
            query = self._split(self.query(pooled))[index]  # (N, H, D)
        scores = (keys * query).sum(-1, keepdim=True) / math.sqrt(keys.shape[-1])  # (N, H, 1)
        attended = rows_softmax_sum(scores, values, rows)  # (S, H, D)
        out = self.out(attended.reshape(attended.shape[0], self.channels))
        out = torch.where(rows.row_mask.any(1, keepdim=True), out, 0.0)
        return out if pooled is None else out + pooled

    def extra_repr(self) -> str:
        return f"{self.channels}, heads={self.heads}, query={self.query_kind}"


class SetPool(nn.Module):
    """Any of :data:`POOLINGS` as a module with one signature, so that a config can swap
    them: ``forward(x (..., K, C), mask=None) -> (..., C)`` and
    ``segments(x (N, C), index, num_segments) -> (S, C)``."""

    def __init__(
        self,
        pooling: str | None = None,
        channels: int | None = None,
        heads: int = 4,
        query: str = "latent",
        *,
        mode: str | None = None,
    ):
        super().__init__()
        pooling = _renamed("mode", mode, pooling, "SetPool")
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r} (known: {', '.join(POOLINGS)})")
        if pooling == "attention" and channels is None:
            raise ValueError("attention pooling needs 'channels'")
        self.pooling = pooling
        self.attention = AttentionPool(channels, heads, query) if pooling == "attention" else None

    @property
    def mode(self) -> str:
        """The older name of :attr:`pooling`."""
        return self.pooling

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.attention is not None:
            return self.attention(x, mask)
        return pool_groups(x, self.pooling, mask)

    def segments(self, x: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
        if self.attention is not None:
            return self.attention.segments(x, index, num_segments)
        return pool_segments(x, index, num_segments, self.pooling)

    def slotted(self, x: torch.Tensor, index: torch.Tensor, rows: SlotRows) -> torch.Tensor:
        """:meth:`segments` through :class:`~geo3d.pooling.slot_rows.SlotRows`: ``x (N, C)``,
        ``index (N,)`` -> ``(S, C)``, the same function with gathers and reductions over
        padded axes only (what an exporter writes)."""
        if self.attention is not None:
            return self.attention.slotted(x, index, rows)
        if self.pooling == "max":
            return rows_max(x, rows)
        if self.pooling == "mean":
            return rows_mean(x, rows)
        if self.pooling == "max+mean":
            return rows_max(x, rows) + rows_mean(x, rows)
        return rows_softmax_sum(x, x, rows)  # SoftPool: sum_i softmax(a)_i a_i per channel

    def extra_repr(self) -> str:
        return self.pooling


def make_pooling(pooling: str | None = None, channels: int | None = None, **options) -> nn.Module:
    """A pooling by the name a config uses: any of :data:`POOLINGS` (a :class:`SetPool`;
    ``heads`` and ``query`` options for attention) or ``edge_collapse`` (MeshCNN's
    :class:`geo3d.pooling.MeshPool`; options ``target`` and ``variant``). (``name``: the old
    name of ``pooling``.)"""
    pooling = _renamed("name", options.pop("name", None), pooling, "make_pooling")
    if pooling == "edge_collapse":
        from geo3d.pooling.edge_collapse import MeshPool

        if "target" not in options:
            raise ValueError("edge_collapse pooling needs a 'target' (edge count or fraction)")
        unknown = set(options) - {"target", "variant"}
        if unknown:
            raise ValueError(f"unknown options {sorted(unknown)} for pooling 'edge_collapse'")
        return MeshPool(options["target"], options.get("variant", "official"))
    unknown = set(options) - {"heads", "query"}
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)} for pooling {pooling!r}")
    return SetPool(pooling, channels, **options)
