"""The index work of sparse 3D convolution: which voxels a convolution outputs, and its
rulebook (for every output voxel and kernel offset, the input voxel it reads).

Conventions are spconv's, so that weights and results carry over: coordinates are
``(N, 4)`` int32 rows ``(batch, z, y, x)``; output ``o`` at kernel offset ``k = (kz, ky,
kx)`` (numbered z-major, as spconv's weight ``(C_out, kz, ky, kx, C_in)``) reads the input
at ``o * stride - padding + k * dilation`` on each axis (a cross-correlation, like
``torch.nn.Conv3d``); a strided convolution outputs every position some active input
reaches, on the grid ``(size + 2 padding - dilation (kernel - 1) - 1) // stride + 1``; a
submanifold one outputs exactly its inputs, with the kernel centred on them.

The rulebook lookup (:func:`sparse_conv_neighbors`) is native (a hash table of the active
coordinates, memory linear in the voxels); the output coordinates and the per-offset
pairs are a few vectorised torch ops.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from geo3d.ops._library import op, register_reference


def triple(name: str, value, low: int = 1) -> list[int]:
    """``value`` (an int or 3 ints) as 3 ints, each at least ``low``."""
    values = [value] * 3 if isinstance(value, int) else list(value)
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"'{name}' must be an int or 3 ints (got {value!r})")
    if min(values) < low:
        raise ValueError(f"'{name}' must be at least {low} (got {value!r})")
    return values


def conv_output_shape(
    in_shape: Sequence[int], kernel_size, stride=1, padding=0, dilation=1
) -> list[int]:
    """The output grid ``(D, H, W)`` of a strided convolution over ``in_shape``."""
    shape = triple("spatial_shape", list(in_shape))
    kernel, step = triple("kernel_size", kernel_size), triple("stride", stride)
    pad, dil = triple("padding", padding, 0), triple("dilation", dilation)
    out = [
        (s + 2 * p - d * (k - 1) - 1) // st + 1
        for s, k, st, p, d in zip(shape, kernel, step, pad, dil)
    ]
    if min(out) < 1:
        raise ValueError(
            f"a kernel of {kernel} (dilation {dil}, padding {pad}) does not fit the grid {shape}"
        )
    return out


def check_coords(name: str, coords: torch.Tensor, spatial_shape: Sequence[int]) -> None:
    """``coords`` must be ``(N, 4)`` int32 ``(batch, z, y, x)`` inside ``spatial_shape``."""
    if not isinstance(coords, torch.Tensor) or coords.dim() != 2 or coords.shape[1] != 4:
        shape = tuple(coords.shape) if isinstance(coords, torch.Tensor) else type(coords)
        raise ValueError(f"Expected '{name}' of shape (N, 4) as (batch, z, y, x) (got {shape})")
    if coords.dtype != torch.int32:
        raise ValueError(f"'{name}' must be int32 (got {coords.dtype})")
    if coords.shape[0] == 0:
        return
    low = coords.min(dim=0).values.tolist()
    high = coords.max(dim=0).values.tolist()
    if min(low) < 0 or any(h >= s for h, s in zip(high[1:], spatial_shape)):
        raise ValueError(
            f"'{name}' has coordinates outside the grid: (batch, z, y, x) from {tuple(low)} to "
            f"{tuple(high)}, grid (z, y, x) {tuple(spatial_shape)}"
        )


def _keys(coords: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    c = coords.long()
    return ((c[:, 0] * shape[0] + c[:, 1]) * shape[1] + c[:, 2]) * shape[2] + c[:, 3]


def _offsets(kernel: Sequence[int], device) -> torch.Tensor:
    """Kernel offsets ``(K, 3)`` (kz, ky, kx), z-major."""
    axes = [torch.arange(k, device=device) for k in kernel]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


@register_reference("sparse_conv_neighbors")
def sparse_conv_neighbors_reference(
    in_coords, out_coords, in_shape, kernel_size, stride, padding, dilation
):
    """See :func:`sparse_conv_neighbors`: input keys sorted, positions found by binary search."""
    keys = _keys(in_coords, in_shape)
    sorted_keys, order = torch.sort(keys)
    if sorted_keys.numel() > 1 and bool((sorted_keys[1:] == sorted_keys[:-1]).any()):
        raise ValueError("'in_coords' has the same voxel twice (coordinates must be unique)")
    offsets = _offsets(kernel_size, out_coords.device)
    step = torch.tensor(stride, device=out_coords.device)
    pad = torch.tensor(padding, device=out_coords.device)
    dil = torch.tensor(dilation, device=out_coords.device)
    size = torch.tensor(in_shape, device=out_coords.device)
    position = out_coords[:, None, 1:].long() * step - pad + offsets[None] * dil  # (M, K, 3)
    inside = ((position >= 0) & (position < size)).all(dim=-1)
    batch = out_coords[:, None, 0].long().expand(-1, offsets.shape[0])
    wanted = ((batch * in_shape[0] + position[..., 0]) * in_shape[1] + position[..., 1]) * in_shape[
        2
    ] + position[..., 2]
    slot = torch.searchsorted(sorted_keys, wanted.clamp(min=0)).clamp(max=max(len(keys) - 1, 0))
    if len(keys) == 0:
        return torch.full(wanted.shape, -1, dtype=torch.int64, device=out_coords.device)
    found = inside & (sorted_keys[slot] == wanted)
    return torch.where(found, order[slot], torch.full_like(slot, -1))


@torch.library.register_fake("geo3d::sparse_conv_neighbors")
def _sparse_conv_neighbors_fake(
    in_coords, out_coords, in_shape, kernel_size, stride, padding, dilation
):
    volume = kernel_size[0] * kernel_size[1] * kernel_size[2]
    return out_coords.new_empty((out_coords.shape[0], volume), dtype=torch.int64)


def sparse_conv_neighbors(
    in_coords: torch.Tensor,
    out_coords: torch.Tensor,
    in_shape: Sequence[int],
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    check_unique: bool = True,
) -> torch.Tensor:
    """For each output voxel and kernel offset, the input voxel it reads:
    ``in_coords (N, 4), out_coords (M, 4)`` int32 ``(batch, z, y, x)`` -> ``(M, K)`` int64
    row indices into ``in_coords``, ``-1`` where the position is empty or off the grid
    (``K = kz * ky * kx``, z-major). ``in_coords`` must be unique and inside ``in_shape``;
    ``check_unique=False`` leaves the uniqueness check to the kernel (a RuntimeError there,
    not a ValueError here: the layers save the sort it costs)."""
    shape = triple("in_shape", list(in_shape))
    kernel, step = triple("kernel_size", kernel_size), triple("stride", stride)
    pad, dil = triple("padding", padding, 0), triple("dilation", dilation)
    check_coords("in_coords", in_coords, shape)
    if (
        not isinstance(out_coords, torch.Tensor)
        or out_coords.dim() != 2
        or out_coords.shape[1] != 4
    ):
        raise ValueError("Expected 'out_coords' of shape (M, 4) as (batch, z, y, x)")
    if out_coords.dtype != torch.int32:
        raise ValueError(f"'out_coords' must be int32 (got {out_coords.dtype})")
    if out_coords.device != in_coords.device:
        raise ValueError(
            f"'in_coords' is on {in_coords.device} but 'out_coords' is on {out_coords.device}"
        )
    if out_coords.shape[0] and int(out_coords[:, 0].min()) < 0:
        raise ValueError("'out_coords' has a negative batch index")
    keys = _keys(in_coords, shape) if check_unique else None
    if check_unique and keys.numel() > 1 and torch.unique(keys).numel() != keys.numel():
        raise ValueError("'in_coords' has the same voxel twice (coordinates must be unique)")
    return op("sparse_conv_neighbors")(
        in_coords.contiguous(), out_coords.contiguous(), shape, kernel, step, pad, dil
    )


@register_reference("sparse_conv_outputs")
def sparse_conv_outputs_reference(
    coords, in_shape, kernel_size, stride, padding, dilation, out_shape
) -> torch.Tensor:
    """See :func:`sparse_conv_output_coords`: every (input, offset) candidate in torch ops,
    made unique by ``torch.unique`` on linear keys."""
    device = coords.device
    offsets = _offsets(kernel_size, device)
    pad, dil = torch.tensor(padding, device=device), torch.tensor(dilation, device=device)
    numerator = coords[:, None, 1:].long() + pad - offsets[None] * dil  # (N, K, 3): o * stride
    stride_t, limit = torch.tensor(stride, device=device), torch.tensor(out_shape, device=device)
    position = torch.div(numerator, stride_t, rounding_mode="floor")
    valid = ((numerator % stride_t == 0) & (position >= 0) & (position < limit)).all(dim=-1)
    batch = coords[:, None, 0].long().expand(-1, offsets.shape[0])
    keys = ((batch * out_shape[0] + position[..., 0]) * out_shape[1] + position[..., 1]) * (
        out_shape[2]
    ) + position[..., 2]
    keys = torch.unique(keys[valid])
    out = torch.empty((keys.shape[0], 4), dtype=torch.int64, device=device)
    remainder = keys
    for column, size in ((3, out_shape[2]), (2, out_shape[1]), (1, out_shape[0])):
        out[:, column] = remainder % size
        remainder = torch.div(remainder, size, rounding_mode="floor")
    out[:, 0] = remainder
    return out.to(torch.int32)


@torch.library.register_fake("geo3d::sparse_conv_outputs")
def _sparse_conv_outputs_fake(coords, in_shape, kernel_size, stride, padding, dilation, out_shape):
    count = torch.library.get_ctx().new_dynamic_size()
    return coords.new_empty((count, 4))


def sparse_conv_output_coords(
    coords: torch.Tensor, in_shape: Sequence[int], kernel_size, stride=1, padding=0, dilation=1
) -> tuple[torch.Tensor, list[int]]:
    """The active outputs of a strided convolution: ``(out_coords (M, 4) int32, out_shape)``,
    every output position that reads at least one active input, sorted by ``(batch, z, y,
    x)`` (spconv finds the same set, in its own order)."""
    shape = triple("in_shape", list(in_shape))
    kernel, step = triple("kernel_size", kernel_size), triple("stride", stride)
    pad, dil = triple("padding", padding, 0), triple("dilation", dilation)
    out_shape = conv_output_shape(shape, kernel, step, pad, dil)
    check_coords("coords", coords, shape)
    out = op("sparse_conv_outputs")(coords.contiguous(), shape, kernel, step, pad, dil, out_shape)
    return out, out_shape


def sparse_conv_pairs(
    neighbors: torch.Tensor, skip_offset: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """The rulebook as pairs grouped by kernel offset: ``(pair_in (P,), pair_out (P,),
    counts)`` with ``counts[k]`` pairs for offset ``k`` (in offset order, outputs ascending
    within one). ``skip_offset`` leaves one offset out (a submanifold convolution's centre,
    where every voxel reads itself)."""
    table = neighbors.t()
    active = table >= 0
    if skip_offset is not None:
        active[skip_offset] = False
    offset, pair_out = active.nonzero(as_tuple=True)
    pair_in = table[offset, pair_out]
    counts = active.sum(dim=1).tolist()
    return pair_in, pair_out, counts
