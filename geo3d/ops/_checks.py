"""Input validation at the public boundary: every error is a ``ValueError`` naming the argument.

Checks that read tensor values (NaN, index ranges) are skipped while ``torch.compile``
or ``torch.export`` traces, where values are not known; the kernels check again.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

FLOAT_DTYPES = (torch.float32, torch.float64)


def tracing() -> bool:
    """True while torch.compile / torch.export trace (data-dependent checks are skipped)."""
    return torch.compiler.is_compiling()


def check_points(name: str, xyz: torch.Tensor, *, batched: bool = True, dims: int = 3) -> None:
    """``xyz`` must be a float32/float64 tensor of shape (B, N, dims) (or (N, >=dims) unbatched)."""
    if not isinstance(xyz, torch.Tensor):
        raise TypeError(f"Expected '{name}' to be a torch.Tensor (got {type(xyz).__name__})")
    if batched:
        if xyz.dim() != 3 or xyz.shape[-1] != dims:
            raise ValueError(f"Expected '{name}' of shape (B, N, {dims}) (got {tuple(xyz.shape)})")
    else:
        if xyz.dim() != 2 or xyz.shape[-1] < dims:
            raise ValueError(
                f"Expected '{name}' of shape (N, C) with C >= {dims} (got {tuple(xyz.shape)})"
            )
    if xyz.dtype not in FLOAT_DTYPES:
        raise ValueError(f"Expected '{name}' to be float32 or float64 (got {xyz.dtype})")


def check_finite(
    name: str,
    values: torch.Tensor,
    lengths: torch.Tensor | None = None,
    columns: int | None = None,
) -> None:
    """No NaN or inf in ``values`` (B, N, C) or (N, C).

    Only the first ``lengths[b]`` rows of a batch and the first ``columns`` channels
    (default: all) are looked at.
    """
    if tracing() or values.numel() == 0:
        return
    # Fast path: a finite sum proves every value finite (NaN and inf propagate through a
    # sum); a non-finite sum (or an overflow of huge values) falls through to the exact check.
    if bool(torch.isfinite(values.sum())):
        return
    if columns is not None:
        values = values[..., :columns]
    bad = ~torch.isfinite(values).all(dim=-1)
    if lengths is not None and values.dim() == 3:
        positions = torch.arange(values.shape[1], device=values.device)
        bad &= positions[None, :] < lengths[:, None]
    if bool(bad.any()):
        where = bad.nonzero()[0].tolist()
        raise ValueError(f"'{name}' has NaN or inf coordinates (first at index {tuple(where)})")


def resolve_lengths(
    name: str, lengths: torch.Tensor | Sequence[int] | None, xyz: torch.Tensor
) -> torch.Tensor:
    """Return int64 ``lengths (B,)`` on ``xyz``'s device; ``None`` means every cloud is full."""
    batch, num_points = xyz.shape[0], xyz.shape[1]
    if lengths is None:
        return torch.full((batch,), num_points, dtype=torch.int64, device=xyz.device)
    lengths = torch.as_tensor(lengths, device=xyz.device)
    if lengths.dim() != 1 or lengths.shape[0] != batch:
        raise ValueError(
            f"Expected '{name}' of shape ({batch},) to match the batch (got {tuple(lengths.shape)})"
        )
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise ValueError(f"Expected '{name}' to be an integer tensor (got {lengths.dtype})")
    lengths = lengths.to(torch.int64)
    if not tracing() and batch > 0:
        low, high = int(lengths.min()), int(lengths.max())
        if low < 0 or high > num_points:
            raise ValueError(
                f"'{name}' must lie in [0, {num_points}] (got values from {low} to {high})"
            )
    return lengths


def check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"Expected '{name}' to be an int (got {type(value).__name__})")
    if value < 1:
        raise ValueError(f"'{name}' must be at least 1 (got {value})")
    return value


def check_positive_float(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or value == float("inf"):
        raise ValueError(f"'{name}' must be a positive finite number (got {value})")
    return value


def check_same_device_dtype(first: str, a: torch.Tensor, second: str, b: torch.Tensor) -> None:
    if a.device != b.device:
        raise ValueError(f"'{first}' is on {a.device} but '{second}' is on {b.device}")
    if a.dtype != b.dtype:
        raise ValueError(f"'{first}' is {a.dtype} but '{second}' is {b.dtype}")


def check_nonempty(name: str, xyz: torch.Tensor) -> None:
    if xyz.shape[1] == 0:
        raise ValueError(f"'{name}' is an empty cloud (shape {tuple(xyz.shape)})")
