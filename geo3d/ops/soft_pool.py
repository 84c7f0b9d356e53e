"""SoftPool on 1D, 2D and 3D grids (Stergiou et al., ICCV 2021, eq. 1-2).

Per channel and window ``R``: ``y = sum_{i in R} w_i a_i`` with ``w_i = exp(a_i) / sum_{j in
R} exp(a_j)``. Where we differ from the official ``SoftPool`` package, on purpose:

- the window's maximum is subtracted before ``exp`` (the official CUDA kernel exponentiates
  raw activations and clamps, so it overflows in float16 and saturates in float32);
- the gradient is exact, ``dy/da_i = w_i (1 + a_i - y)`` (the official backward treats the
  weights as constants);
- every stride and padding works (the official kernel is wrong for ``stride != kernel``);
  padded positions are outside the window (weight 0), as ``max_pool``'s;
- the CPU and CUDA kernels compute the same per-channel formula (the official CPU
  fallback shares one weight across channels);
- no ``exp`` tensor is saved for the backward: only the output and the window's
  log-sum-exp, both of the output's size; ``exp`` is recomputed from the input. The
  weights are therefore as precise as the log-sum-exp (float32 below float64): about
  ``|max| * 6e-8`` absolute in the exponent, negligible unless activations reach ~1e5;
- non-finite inputs follow one rule on every device: a ``-inf`` member has weight 0 (so
  masked or padded activations give the pool of the others), a window whose maximum is
  NaN, ``-inf`` or ``+inf`` outputs that value and passes no gradient.

Defaults as the official package: ``kernel_size = 2``, ``stride = kernel_size``.
"""

from __future__ import annotations

import torch

from geo3d.ops._library import op, register_reference


def _window_view(x: torch.Tensor, kernel, stride, padding):
    """``(N, C, *out, prod(kernel))`` windows of ``x`` with ``-inf`` in the padding."""
    dims = len(kernel)
    pad = []
    for p in reversed(padding):
        pad += [p, p]
    padded = torch.nn.functional.pad(x, pad, value=float("-inf")) if any(padding) else x
    windows = padded
    for a in range(dims):
        windows = windows.unfold(2 + a, kernel[a], stride[a])
    return windows.reshape(*windows.shape[: 2 + dims], -1)


@register_reference("soft_pool")
def soft_pool_reference(x, kernel_size, stride, padding):
    """See :func:`soft_pool2d`: windows by ``unfold``, a softmax per window, in float64 for
    float64 input and float32 otherwise. Returns ``(out, lse)`` like the native kernel."""
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    windows = _window_view(x.to(compute), list(kernel_size), list(stride), list(padding))
    out, lse = soft_window_reduce(windows)
    return out.to(x.dtype), lse


def soft_window_reduce(windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """SoftPool over the last axis of ``windows (..., K)``, ``-inf`` marking absent members:
    ``(out (...), lse (...))``, differentiable, with the kernels' rule for non-finite values.

    A ``-inf`` member has weight 0 (``0 * -inf`` would be NaN); a window whose maximum is
    NaN, ``-inf`` (all members ``-inf``) or ``+inf`` outputs that value, and passes no
    gradient. Every intermediate is finite elsewhere, so autograd never meets ``0 * inf``.
    """
    peak = windows.amax(dim=-1)  # NaN propagates
    settled = ~torch.isfinite(peak)
    safe_peak = torch.where(settled, 0.0, peak).detach()[..., None]
    member = (windows > float("-inf")) & ~settled[..., None]
    values = torch.where(member, windows, safe_peak)
    weights = torch.where(member, torch.exp(values - safe_peak), 0.0)
    total = torch.where(settled, 1.0, weights.sum(dim=-1))  # >= 1 elsewhere: exp(0) at the peak
    out = torch.where(settled, peak.detach(), (weights * values).sum(dim=-1) / total)
    lse = torch.where(settled, peak.detach(), safe_peak[..., 0] + torch.log(total))
    return out, lse.detach()


@register_reference("soft_pool_backward")
def soft_pool_backward_reference(grad_out, x, out, lse, kernel_size, stride, padding):
    """The exact gradient through :func:`soft_pool_reference` (autograd of the windows)."""
    compute = torch.float64 if x.dtype == torch.float64 else torch.float32
    with torch.enable_grad():
        leaf = x.detach().to(compute).requires_grad_()
        y, _ = soft_pool_reference(leaf, kernel_size, stride, padding)
        (grad,) = torch.autograd.grad(y, leaf, grad_out.to(compute))
    return grad.to(x.dtype)


def _out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


@torch.library.register_fake("geo3d::soft_pool")
def _soft_pool_fake(x, kernel_size, stride, padding):
    spatial = [
        _out_size(x.shape[2 + a], k, s, p)
        for a, (k, s, p) in enumerate(zip(kernel_size, stride, padding))
    ]
    shape = (x.shape[0], x.shape[1], *spatial)
    lse_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    return x.new_empty(shape), x.new_empty(shape, dtype=lse_dtype)


@torch.library.register_fake("geo3d::soft_pool_backward")
def _soft_pool_backward_fake(grad_out, x, out, lse, kernel_size, stride, padding):
    return torch.empty_like(x)


def _setup_context(ctx, inputs, output):
    x, kernel_size, stride, padding = inputs
    out, lse = output
    ctx.save_for_backward(x, out, lse)
    ctx.geometry = (kernel_size, stride, padding)


def _backward(ctx, grad_out, grad_lse):
    x, out, lse = ctx.saved_tensors
    grad = op("soft_pool_backward")(grad_out.contiguous(), x, out, lse, *ctx.geometry)
    return grad, None, None, None


torch.library.register_autograd("geo3d::soft_pool", _backward, setup_context=_setup_context)


def _as_tuple(value, dims: int, name: str) -> list[int]:
    values = [value] * dims if isinstance(value, int) else list(value)
    if len(values) != dims or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise ValueError(f"'{name}' must be an int or {dims} ints (got {value!r})")
    return values


def soft_pool(x: torch.Tensor, dims: int, kernel_size=2, stride=None, padding=0) -> torch.Tensor:
    """SoftPool over the last ``dims`` axes of ``x (N, C, *spatial)`` (or ``(C, *spatial)``)."""
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise ValueError(
            f"'x' must be a floating-point tensor (got {getattr(x, 'dtype', type(x))})"
        )
    if x.dim() not in (dims + 1, dims + 2):
        raise ValueError(
            f"soft_pool{dims}d expects 'x' of shape (N, C, {dims} spatial) or (C, {dims} spatial) "
            f"(got {tuple(x.shape)})"
        )
    kernel = _as_tuple(kernel_size, dims, "kernel_size")
    strides = kernel if stride is None else _as_tuple(stride, dims, "stride")
    pads = _as_tuple(padding, dims, "padding")
    if any(k < 1 for k in kernel) or any(s < 1 for s in strides):
        raise ValueError(f"kernel sizes and strides must be >= 1 (got {kernel}, {strides})")
    if any(p < 0 or 2 * p > k for p, k in zip(pads, kernel)):
        raise ValueError(f"'padding' must be between 0 and half the kernel size (got {pads})")
    unbatched = x.dim() == dims + 1
    batch = x[None] if unbatched else x
    for a, (k, p) in enumerate(zip(kernel, pads)):
        if batch.shape[2 + a] + 2 * p < k:
            raise ValueError(
                f"the kernel ({k}) is larger than the padded input ({batch.shape[2 + a] + 2 * p}) "
                f"along spatial dim {a}"
            )
    out, _ = op("soft_pool")(batch.contiguous(), kernel, strides, pads)
    return out[0] if unbatched else out


def soft_pool1d(x, kernel_size=2, stride=None, padding=0):
    """SoftPool over ``x (N, C, L)`` (module docstring)."""
    return soft_pool(x, 1, kernel_size, stride, padding)


def soft_pool2d(x, kernel_size=2, stride=None, padding=0):
    """SoftPool over ``x (N, C, H, W)`` (module docstring)."""
    return soft_pool(x, 2, kernel_size, stride, padding)


def soft_pool3d(x, kernel_size=2, stride=None, padding=0):
    """SoftPool over ``x (N, C, D, H, W)`` (module docstring)."""
    return soft_pool(x, 3, kernel_size, stride, padding)
