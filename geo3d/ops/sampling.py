"""Farthest point sampling."""

from __future__ import annotations

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference


def squared_distance_to(xyz: torch.Tensor, center: torch.Tensor) -> torch.Tensor:
    """Squared distances of ``xyz (..., N, 3)`` to ``center (..., 3)`` -> ``(..., N)``.

    Computed as ``(dx * dx + dy * dy) + dz * dz`` in the input dtype, the same order of
    operations as the native kernels (built without FMA contraction), so that the
    reference and the kernels agree bit for bit and pick the same points.
    """
    diff = xyz - center.unsqueeze(-2)
    return diff[..., 0] * diff[..., 0] + diff[..., 1] * diff[..., 1] + diff[..., 2] * diff[..., 2]


def resolve_start_idx(
    start_idx: int | torch.Tensor, batch: int, device: torch.device
) -> torch.Tensor:
    """FPS's ``start_idx`` (an int, a one-element or a ``(batch,)`` tensor) as ``(batch,)``
    int64 on ``device``; a wrong shape or type is a named error. Ranges are the caller's."""
    if isinstance(start_idx, torch.Tensor):
        start = start_idx.to(device=device, dtype=torch.int64).reshape(-1)
        if start.numel() == 1:
            start = start.expand(batch)
        if start.shape[0] != batch:
            raise ValueError(
                f"Expected 'start_idx' to be an int or of shape ({batch},) (got "
                f"{tuple(start_idx.shape)})"
            )
        return start
    if isinstance(start_idx, int) and not isinstance(start_idx, bool):
        return torch.full((batch,), start_idx, dtype=torch.int64, device=device)
    raise TypeError(
        f"Expected 'start_idx' to be an int or a tensor (got {type(start_idx).__name__})"
    )


@register_reference("farthest_point_sample")
def farthest_point_sample_reference(
    xyz: torch.Tensor, lengths: torch.Tensor, num_samples: int, start_idx: torch.Tensor
) -> torch.Tensor:
    """Plain O(N * num_samples) farthest point sampling; see :func:`farthest_point_sample`."""
    batch, num_points, _ = xyz.shape
    idx = xyz.new_full((batch, num_samples), -1, dtype=torch.int64)
    if num_points == 0:
        return idx
    arange = torch.arange(num_points, device=xyz.device)
    valid = arange[None, :] < lengths[:, None]  # (B, N)
    # Padding gets -1 so it is never the farthest; chosen points fall to 0.
    min_dist = torch.where(valid, torch.inf, -1.0).to(xyz.dtype)
    batch_arange = torch.arange(batch, device=xyz.device)
    current = start_idx.clamp(0, num_points - 1)
    for step in range(num_samples):
        active = step < lengths  # (B,)
        idx[:, step] = torch.where(active, current, -1)
        dist = squared_distance_to(xyz, xyz[batch_arange, current])  # (B, N)
        min_dist = torch.where(valid, torch.minimum(min_dist, dist), min_dist)
        current = min_dist.argmax(dim=1)  # first maximum: ties go to the lowest index
    return idx


@torch.library.register_fake("geo3d::farthest_point_sample")
def _fake(xyz, lengths, num_samples, start_idx):
    return xyz.new_empty((xyz.shape[0], num_samples), dtype=torch.int64)


def farthest_point_sample(
    xyz: torch.Tensor,
    num_samples: int,
    lengths: torch.Tensor | None = None,
    start_idx: int | torch.Tensor = 0,
) -> torch.Tensor:
    """Exact farthest point sampling.

    Starting from ``start_idx``, each step selects the point with the largest squared
    Euclidean distance to the already selected set; ties go to the lowest index (so a
    cloud of duplicates may select the same point again, as pytorch3d does).

    Args:
        xyz: (B, N, 3) float32 or float64 points, padded.
        num_samples: M >= 1, the number of points to select per cloud.
        lengths: (B,) int, the number of real points of each cloud (default: all N).
        start_idx: int or (B,) int tensor, the first selected point of each cloud.

    Returns:
        (B, M) int64 indices into N, in selection order; ``-1`` past a cloud's length.

    The CPU kernel is exact and fast at any size: a kd-tree whose nodes carry their
    points' largest current distance lets each step skip every subtree the new point
    cannot reach (the bucket idea of QuickFPS, Han et al. 2023), in parallel over
    clouds and, for large clouds, over subtrees. Indices carry no gradient.
    """
    _checks.check_points("xyz", xyz)
    _checks.check_positive_int("num_samples", num_samples)
    _checks.check_nonempty("xyz", xyz)
    lengths = _checks.resolve_lengths("lengths", lengths, xyz)
    _checks.check_finite("xyz", xyz, lengths)
    batch = xyz.shape[0]
    start = resolve_start_idx(start_idx, batch, xyz.device)
    if not _checks.tracing():
        bad = (start < 0) | ((start >= lengths) & (lengths > 0))
        if bool(bad.any()):
            b = int(bad.nonzero()[0, 0])
            raise ValueError(
                f"'start_idx' {int(start[b])} is outside cloud {b} of {int(lengths[b])} points"
            )
    return op("farthest_point_sample")(xyz.contiguous(), lengths, num_samples, start.contiguous())
