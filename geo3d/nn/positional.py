"""Trigonometric positional encoding of 3D coordinates (Point-NN's PosE).

Zhang et al., "Parameter is Not All You Need", CVPR 2023, eq. 2-3: for an axis value p
and frequency index m in [0, F), F = C / 6, ``u = beta * p / alpha ** (m / F)`` and the
channels are ``sin(u)`` and ``cos(u)``. The official ``PosE_Initial`` / ``PosE_Geo``
interleave them per frequency (s0, c0, s1, c1, ...) and lay the axes out x, then y, then
z, with alpha = 1000 and beta = 100 in effect (its constructor's argument names are
swapped relative to the paper). Point-PN lays out all sines then all cosines per axis
(``layout="blocked"``).
"""

from __future__ import annotations

import torch


def trig_positional_encoding(
    xyz: torch.Tensor,
    channels: int,
    alpha: float = 1000.0,
    beta: float = 100.0,
    layout: str = "interleaved",
) -> torch.Tensor:
    """``xyz (..., 3) -> (..., channels)``; ``channels`` must be a multiple of 6."""
    if xyz.shape[-1] != 3:
        raise ValueError(f"Expected 'xyz' of shape (..., 3) (got {tuple(xyz.shape)})")
    if channels < 6 or channels % 6:
        raise ValueError(f"'channels' must be a positive multiple of 6 (got {channels})")
    if layout not in ("interleaved", "blocked"):
        raise ValueError(f"'layout' must be 'interleaved' or 'blocked' (got {layout!r})")
    frequencies = channels // 6
    exponent = torch.arange(frequencies, device=xyz.device, dtype=xyz.dtype) / frequencies
    scaled = (
        beta * xyz.unsqueeze(-1) / torch.pow(torch.as_tensor(alpha, dtype=xyz.dtype), exponent)
    )  # (..., 3, F)
    sin, cos = torch.sin(scaled), torch.cos(scaled)
    if layout == "interleaved":
        per_axis = torch.stack([sin, cos], dim=-1).flatten(-2)  # (..., 3, 2F): s0 c0 s1 c1 ...
    else:
        per_axis = torch.cat([sin, cos], dim=-1)  # (..., 3, 2F): s0 s1 ... c0 c1 ...
    return per_axis.flatten(-2)  # (..., 6F): x block, y block, z block
