"""Differentiable gathering of per-point features by index."""

from __future__ import annotations

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference


@register_reference("gather_points")
def gather_points_reference(feats: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``feats (B, N, C), idx (B, M) -> (B, M, C)``, zeros where ``idx`` is -1."""
    channels = feats.shape[-1]
    valid = idx >= 0
    safe = idx.clamp(min=0).unsqueeze(-1).expand(-1, -1, channels)
    out = feats.gather(1, safe)
    return out * valid.unsqueeze(-1).to(feats.dtype)


@register_reference("gather_points_backward")
def gather_points_backward_reference(grad: torch.Tensor, idx: torch.Tensor, num_points: int):
    """``grad (B, M, C), idx (B, M) -> (B, N, C)``: the sum of the gradients each point received."""
    batch, _, channels = grad.shape
    valid = idx >= 0
    out = grad.new_zeros((batch, num_points, channels))
    safe = idx.clamp(min=0).unsqueeze(-1).expand(-1, -1, channels)
    out.scatter_add_(1, safe, grad * valid.unsqueeze(-1).to(grad.dtype))
    return out


@torch.library.register_fake("geo3d::gather_points")
def _gather_fake(feats, idx):
    return feats.new_empty((feats.shape[0], idx.shape[1], feats.shape[2]))


@torch.library.register_fake("geo3d::gather_points_backward")
def _gather_backward_fake(grad, idx, num_points):
    return grad.new_empty((grad.shape[0], num_points, grad.shape[2]))


def _setup_context(ctx, inputs, output):
    feats, idx = inputs
    ctx.save_for_backward(idx)
    ctx.num_points = feats.shape[1]


def _backward(ctx, grad):
    (idx,) = ctx.saved_tensors
    return op("gather_points_backward")(grad.contiguous(), idx, ctx.num_points), None


torch.library.register_autograd("geo3d::gather_points", _backward, setup_context=_setup_context)


def gather_points(feats: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """Gather per-point features: ``feats (B, N, C), idx (B, ...) -> (B, ..., C)``.

    Differentiable in ``feats`` (the backward sums the gradients of repeated indices);
    rows where ``idx`` is ``-1`` are zeros and receive no gradient. ``idx`` comes from
    :func:`farthest_point_sample`, :func:`knn` or :func:`ball_query`.
    """
    if not isinstance(feats, torch.Tensor) or feats.dim() != 3:
        raise ValueError(
            f"Expected 'feats' of shape (B, N, C) (got {getattr(feats, 'shape', type(feats))})"
        )
    if not feats.dtype.is_floating_point:
        raise ValueError(f"Expected 'feats' to be a floating tensor (got {feats.dtype})")
    if not isinstance(idx, torch.Tensor) or idx.dim() < 1 or idx.shape[0] != feats.shape[0]:
        raise ValueError(
            f"Expected 'idx' of shape (B, ...) with B = {feats.shape[0]} (got "
            f"{getattr(idx, 'shape', None)})"
        )
    if idx.dtype != torch.int64:
        raise ValueError(f"Expected 'idx' to be int64 (got {idx.dtype})")
    if idx.device != feats.device:
        raise ValueError(f"'idx' is on {idx.device} but 'feats' is on {feats.device}")
    if not _checks.tracing() and idx.numel() > 0:
        low, high = int(idx.min()), int(idx.max())
        if low < -1 or high >= feats.shape[1]:
            raise ValueError(
                f"'idx' must lie in [-1, {feats.shape[1] - 1}] (got values from {low} to {high})"
            )
    batch = feats.shape[0]
    flat = idx.reshape(batch, -1).contiguous()
    out = op("gather_points")(feats.contiguous(), flat)
    return out.reshape(*idx.shape, feats.shape[-1])
