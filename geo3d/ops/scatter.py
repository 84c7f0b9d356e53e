"""Segment reductions: sum, mean, max, min and SoftPool's exponentially weighted sum."""

from __future__ import annotations

import torch

from geo3d.ops import _checks
from geo3d.ops._library import op, register_reference

REDUCTIONS = ("sum", "mean", "max", "min", "soft")


@register_reference("scatter")
def scatter_reference(src, index, num_segments, reduce):
    """See :func:`scatter`. Returns ``(out, arg, lse)`` like the native kernel:

    ``arg (S, C)`` int64 is the row of ``src`` chosen by ``max``/``min`` (the lowest on
    ties, -1 for an empty segment) and ``lse (S, C)`` is the per-channel log-sum-exp of
    a segment for ``soft``; both are empty tensors for the other reductions.
    """
    num_rows, channels = src.shape
    empty_long = index.new_empty((0,))
    empty_float = src.new_empty((0,))
    expanded = index[:, None].expand(-1, channels)
    counts = torch.bincount(index, minlength=num_segments)[:, None]  # (S, 1)
    if reduce in ("sum", "mean"):
        out = src.new_zeros((num_segments, channels)).index_add_(0, index, src)
        if reduce == "mean":
            out = out / counts.clamp(min=1).to(src.dtype)
        return out, empty_long, empty_float
    if reduce in ("max", "min"):
        extreme = src.new_zeros((num_segments, channels)).scatter_reduce(
            0, expanded, src, reduce="amax" if reduce == "max" else "amin", include_self=False
        )
        rows = torch.arange(num_rows, device=src.device)[:, None].expand(-1, channels)
        chosen = extreme[index]
        hit = (src == chosen) | (torch.isnan(src) & torch.isnan(chosen))  # NaN propagates
        arg = torch.full((num_segments, channels), num_rows, device=src.device, dtype=torch.int64)
        arg = arg.scatter_reduce(0, expanded, torch.where(hit, rows, num_rows), reduce="amin")
        arg = torch.where(counts > 0, arg, -1)
        return extreme, arg, empty_float
    if reduce == "soft":
        peak = src.new_zeros((num_segments, channels)).scatter_reduce(
            0, expanded, src, reduce="amax", include_self=False
        )
        # A NaN member makes the segment NaN; an all -inf segment gives -inf and a +inf
        # member +inf (the limits of the formula); elsewhere a -inf member weighs 0.
        settled = ~torch.isfinite(peak)
        member_settled = settled[index]
        safe_peak = torch.where(settled, 0.0, peak)[index]
        member = (src > float("-inf")) & ~member_settled
        safe_src = torch.where(member, src, safe_peak)
        weights = torch.where(member, torch.exp(safe_src - safe_peak), 0.0)  # <= 1: no overflow
        total = src.new_zeros((num_segments, channels)).index_add_(0, index, weights)
        weighted = src.new_zeros((num_segments, channels)).index_add_(0, index, weights * safe_src)
        nonempty = counts > 0
        total = torch.where(settled | ~nonempty, 1.0, total)
        out = torch.where(settled, peak, weighted / total)
        lse = torch.where(settled, peak, torch.where(settled, 0.0, peak) + torch.log(total))
        out = torch.where(nonempty, out, 0.0)
        lse = torch.where(nonempty, lse, 0.0)
        return out.to(src.dtype), empty_long, lse.to(src.dtype)
    raise ValueError(f"'reduce' must be one of {REDUCTIONS} (got {reduce!r})")


@register_reference("scatter_soft_backward")
def scatter_soft_backward_reference(grad_out, src, index, out, lse):
    """The gradient of ``reduce="soft"`` in ``src (N, C)`` given ``grad_out (S, C)``.

    ``y = sum_i w_i a_i`` with ``w = softmax(a)`` per segment and channel, so
    ``dy/da_i = w_i (1 + a_i - y)``: SoftPool's exact gradient (its official CUDA kernel
    treats the weights as constants instead). ``w_i = exp(a_i - lse)``.
    """
    member_lse = lse[index]
    passes = torch.isfinite(member_lse) & (src > float("-inf"))
    weights = torch.where(passes, torch.exp(src - torch.where(passes, member_lse, 0.0)), 0.0)
    grad = weights * grad_out[index] * (1 + torch.where(passes, src - out[index], 0.0))
    return torch.where(weights == 0, 0.0, grad)


@torch.library.register_fake("geo3d::scatter_soft_backward")
def _scatter_soft_backward_fake(grad_out, src, index, out, lse):
    return torch.empty_like(src)


@torch.library.register_fake("geo3d::scatter")
def _scatter_fake(src, index, num_segments, reduce):
    channels = src.shape[1]
    out = src.new_empty((num_segments, channels))
    arg = index.new_empty((num_segments, channels) if reduce in ("max", "min") else (0,))
    lse = src.new_empty((num_segments, channels) if reduce == "soft" else (0,))
    return out, arg, lse


def _setup_context(ctx, inputs, output):
    src, index, num_segments, reduce = inputs
    out, arg, lse = output
    ctx.reduce = reduce
    ctx.num_rows = src.shape[0]
    ctx.save_for_backward(src if reduce == "soft" else None, index, out, arg, lse)
    ctx.mark_non_differentiable(arg, lse)


def _backward(ctx, grad_out, _grad_arg, _grad_lse):
    src, index, out, arg, lse = ctx.saved_tensors
    reduce = ctx.reduce
    if reduce == "sum":
        return grad_out[index], None, None, None
    if reduce == "mean":
        counts = torch.bincount(index, minlength=grad_out.shape[0]).clamp(min=1)
        return (grad_out / counts[:, None].to(grad_out.dtype))[index], None, None, None
    if reduce in ("max", "min"):
        channels = grad_out.shape[1]
        grad_src = grad_out.new_zeros((ctx.num_rows * channels,))
        chosen = arg >= 0
        channel = torch.arange(channels, device=arg.device)[None, :].expand_as(arg)
        flat = (arg * channels + channel)[chosen]
        grad_src[flat] = grad_out[chosen]
        return grad_src.view(ctx.num_rows, channels), None, None, None
    grad_src = op("scatter_soft_backward")(grad_out.contiguous(), src, index, out, lse)
    return grad_src, None, None, None


torch.library.register_autograd("geo3d::scatter", _backward, setup_context=_setup_context)


def scatter(
    src: torch.Tensor, index: torch.Tensor, num_segments: int, reduce: str = "sum"
) -> torch.Tensor:
    """Reduce the rows of ``src`` into segments: ``src (N, C), index (N,) -> (num_segments, C)``.

    ``reduce`` is ``sum``, ``mean``, ``max``, ``min`` or ``soft``. ``soft`` is SoftPool's
    weighting applied per channel within each segment (Stergiou et al., ICCV 2021, eq. 1-2):
    ``y = sum_i softmax(a)_i * a_i``, computed with the segment's maximum subtracted so it
    never overflows (the official kernel does not subtract it). Empty segments give 0.
    Differentiable in ``src``: ``max``/``min`` send the gradient to the lowest-index row
    among ties; ``soft`` uses the exact gradient ``w_i (1 + a_i - y)``.

    Non-finite values follow one rule in every implementation (CPU kernel, reference,
    CUDA through the reference): a NaN in a segment makes its ``max``, ``min``, ``sum``,
    ``mean`` and ``soft`` NaN (torch's ``amax`` rule; ``max``/``min`` send the gradient to
    the first NaN row). For ``soft``, a ``-inf`` member has weight 0 (masked activations
    are common), an all ``-inf`` segment gives ``-inf`` and a ``+inf`` member ``+inf``, the
    formula's limits; segments whose log-sum-exp is not finite pass no gradient.
    """
    if not isinstance(src, torch.Tensor) or src.dim() != 2:
        raise ValueError(f"Expected 'src' of shape (N, C) (got {getattr(src, 'shape', type(src))})")
    if src.dtype not in _checks.FLOAT_DTYPES:
        raise ValueError(f"Expected 'src' to be float32 or float64 (got {src.dtype})")
    if not isinstance(index, torch.Tensor) or index.dim() != 1:
        raise ValueError(
            f"Expected 'index' to be one-dimensional (got {getattr(index, 'shape', type(index))})"
        )
    if index.dtype != torch.int64:
        raise ValueError(f"Expected 'index' to be int64 (got {index.dtype})")
    if index.shape[0] != src.shape[0]:
        raise ValueError(f"'index' has {index.shape[0]} entries but 'src' has {src.shape[0]} rows")
    if index.device != src.device:
        raise ValueError(f"'index' is on {index.device} but 'src' is on {src.device}")
    if isinstance(num_segments, bool) or not isinstance(num_segments, int) or num_segments < 0:
        raise ValueError(f"'num_segments' must be a non-negative int (got {num_segments!r})")
    if reduce not in REDUCTIONS:
        raise ValueError(f"'reduce' must be one of {REDUCTIONS} (got {reduce!r})")
    if not _checks.tracing() and index.numel() > 0:
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= num_segments:
            raise ValueError(
                f"'index' must lie in [0, {num_segments}) (got values from {low} to {high})"
            )
    return op("scatter")(src.contiguous(), index.contiguous(), num_segments, reduce)[0]
