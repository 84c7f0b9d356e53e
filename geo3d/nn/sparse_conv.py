"""Sparse 3D convolution that trains anywhere: submanifold, strided and inverse layers
whose forward and backward run on the CPU and on CUDA.

spconv is the field's library, but on a machine without CUDA it runs forward only (its
backward asserts ``Torch not compiled with CUDA enabled``, spconv 2.3.8). Here the
rulebook is geo3d's native op (:func:`geo3d.ops.sparse_conv_neighbors`) and the features
go through one gather, one matrix multiply per kernel offset and one ``index_add``, so
autograd gives the backward. The API follows spconv's (``SparseConvTensor``,
``SubMConv3d``, ``SparseConv3d``, ``SparseInverseConv3d``, ``indice_key``,
``SparseSequential``) and so does the weight layout, ``(C_out, kz, ky, kx, C_in)``: a
state dict loads into either. ``backend="spconv"`` runs a layer on spconv's kernels
instead (where spconv is installed; with CUDA for training; :mod:`geo3d.nn.spconv_interop`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from geo3d.ops.sparse_conv import (
    check_coords,
    sparse_conv_neighbors,
    sparse_conv_output_coords,
    sparse_conv_pairs,
    triple,
)

BACKENDS = ("geo3d", "spconv")


@dataclass(frozen=True)
class Rulebook:
    """The pairs of one convolution: input row ``pair_in[p]`` feeds output row
    ``pair_out[p]`` through kernel offset ``k`` (``counts[k]`` pairs per offset, in
    offset order); ``identity`` is the submanifold centre offset every voxel reads itself
    through (kept out of the pairs), else ``None``. The coordinates and grids on both
    sides let an inverse convolution run the same pairs backwards."""

    pair_in: torch.Tensor
    pair_out: torch.Tensor
    counts: list[int]
    identity: int | None
    in_coords: torch.Tensor
    out_coords: torch.Tensor
    in_shape: list[int]
    out_shape: list[int]
    kernel_size: list[int]
    neighbors: torch.Tensor | None = None  # (N_out, K): each output's input per offset, -1

    def inverted(self) -> Rulebook:
        return Rulebook(
            self.pair_out,
            self.pair_in,
            self.counts,
            self.identity,
            self.out_coords,
            self.in_coords,
            self.out_shape,
            self.in_shape,
            self.kernel_size,
        )


@dataclass
class SparseConvTensor:
    """A batch of sparse voxel features: ``features (N, C)``, ``indices (N, 4)`` int32
    ``(batch, z, y, x)`` (unique), the grid ``spatial_shape (D, H, W)`` and
    ``batch_size``. ``indice_dict`` carries rulebooks by ``indice_key`` between layers,
    shared by every tensor derived from this one (spconv's model)."""

    features: torch.Tensor
    indices: torch.Tensor
    spatial_shape: list[int]
    batch_size: int
    indice_dict: dict = field(default_factory=dict)
    spconv_tensor: object = None  # the spconv tensor behind a layer run on spconv

    def __post_init__(self):
        self.spatial_shape = triple("spatial_shape", list(self.spatial_shape))
        if not isinstance(self.features, torch.Tensor) or self.features.dim() != 2:
            raise ValueError("Expected 'features' of shape (N, C)")
        if self.features.shape[0] != self.indices.shape[0]:
            raise ValueError(
                f"{self.features.shape[0]} feature rows for {self.indices.shape[0]} voxels"
            )
        check_coords("indices", self.indices, self.spatial_shape)
        if self.indices.shape[0] and int(self.indices[:, 0].max()) >= self.batch_size:
            raise ValueError(
                f"'indices' has batch index {int(self.indices[:, 0].max())} for batch_size "
                f"{self.batch_size}"
            )

    def replace_feature(self, features: torch.Tensor) -> SparseConvTensor:
        """The same voxels (and rulebooks) with new features ``(N, C')``."""
        out = SparseConvTensor.__new__(SparseConvTensor)
        out.__dict__.update(self.__dict__)
        if features.shape[0] != self.indices.shape[0]:
            raise ValueError(f"{features.shape[0]} feature rows for {self.indices.shape[0]} voxels")
        out.features = features
        if self.spconv_tensor is not None:
            out.spconv_tensor = self.spconv_tensor.replace_feature(features)
        return out

    def dense(self, channels_first: bool = True) -> torch.Tensor:
        """``(B, C, D, H, W)`` (or ``(B, D, H, W, C)``), zeros where no voxel is active."""
        d, h, w = self.spatial_shape
        grid = self.features.new_zeros((self.batch_size, d, h, w, self.features.shape[1]))
        i = self.indices.long()
        grid[i[:, 0], i[:, 1], i[:, 2], i[:, 3]] = self.features
        return grid.permute(0, 4, 1, 2, 3).contiguous() if channels_first else grid


def _segments(counts: list[int]):
    """``(k, start, end)`` of the non-empty offsets' blocks of pairs."""
    start = 0
    for k, count in enumerate(counts):
        if count:
            yield k, start, start + count
        start += count


class _SparseConvFunction(torch.autograd.Function):
    """Gather, multiply, add per kernel offset, with a backward that does the same in
    reverse: no ``(pairs, C)`` intermediate is kept or concatenated (slicing one in autograd
    allocated a zero gradient per offset: 60 % of a training step)."""

    @staticmethod
    def forward(ctx, features, kernels, pair_in, pair_out, counts, identity, num_out):
        # kernels (C_out, K, C_in)
        if identity is not None:
            out = features @ kernels[:, identity].t()
        else:
            out = features.new_zeros((num_out, kernels.shape[0]))
        for k, begin, end in _segments(counts):
            rows = features.index_select(0, pair_in[begin:end])
            out.index_add_(0, pair_out[begin:end], rows @ kernels[:, k].t())
        ctx.save_for_backward(features, kernels, pair_in, pair_out)
        ctx.counts, ctx.identity = counts, identity
        return out

    @staticmethod
    def backward(ctx, grad_out):
        features, kernels, pair_in, pair_out = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        need_features, need_kernels = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        grad_features = torch.zeros_like(features) if need_features else None
        grad_kernels = torch.zeros_like(kernels) if need_kernels else None
        if ctx.identity is not None:
            if need_features:
                grad_features += grad_out @ kernels[:, ctx.identity]
            if need_kernels:
                grad_kernels[:, ctx.identity] = grad_out.t() @ features
        for k, begin, end in _segments(ctx.counts):
            grad_rows = grad_out.index_select(0, pair_out[begin:end])
            if need_features:
                grad_features.index_add_(0, pair_in[begin:end], grad_rows @ kernels[:, k])
            if need_kernels:
                rows = features.index_select(0, pair_in[begin:end])
                grad_kernels[:, k] = grad_rows.t() @ rows
        return grad_features, grad_kernels, None, None, None, None, None


def sparse_conv_features(
    features: torch.Tensor, weight: torch.Tensor, rulebook: Rulebook, num_out: int
) -> torch.Tensor:
    """``features (N, C_in)`` through ``weight (C_out, kz, ky, kx, C_in)`` along
    ``rulebook`` -> ``(num_out, C_out)``: per kernel offset, gather the pairs' inputs,
    multiply by that offset's matrix and add into the outputs (differentiable in both)."""
    kernels = weight.reshape(weight.shape[0], -1, weight.shape[-1])
    return _SparseConvFunction.apply(
        features,
        kernels,
        rulebook.pair_in,
        rulebook.pair_out,
        rulebook.counts,
        rulebook.identity,
        num_out,
    )


class SparseModule(nn.Module):
    """A layer that takes and returns a :class:`SparseConvTensor` (others in a
    :class:`SparseSequential` see the features only)."""


class SparseConvolution(SparseModule):
    """The common layer: ``subm`` keeps the active voxels (kernel centred on them),
    otherwise a strided convolution; ``inverse`` runs the rulebook stored under
    ``indice_key`` by a strided convolution backwards, onto that convolution's inputs."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size=3,
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        subm: bool = False,
        inverse: bool = False,
        indice_key: str | None = None,
        backend: str = "geo3d",
    ):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"unknown sparse convolution backend {backend!r} (known: {BACKENDS})")
        if inverse and indice_key is None:
            raise ValueError(
                "an inverse convolution needs the 'indice_key' of the convolution it inverts"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = triple("kernel_size", kernel_size)
        self.stride = triple("stride", stride)
        self.padding = triple("padding", padding, 0)
        self.dilation = triple("dilation", dilation)
        if subm and any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(
                f"a submanifold kernel must be odd to centre it (got {self.kernel_size})"
            )
        self.subm, self.inverse, self.indice_key, self.backend = subm, inverse, indice_key, backend
        self.weight = nn.Parameter(torch.empty(out_channels, *self.kernel_size, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``torch.nn.Conv3d``'s initialisation, with the fan-in of this layout."""
        fan_in = self.in_channels * math.prod(self.kernel_size)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        nn.init.uniform_(self.weight, -bound, bound)  # kaiming_uniform(a=sqrt(5)) of Conv3d
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        kind = "subm" if self.subm else "inverse" if self.inverse else f"stride={self.stride}"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, {kind}, "
            f"indice_key={self.indice_key!r}, backend={self.backend!r}"
        )

    def rulebook(self, x: SparseConvTensor) -> Rulebook:
        """This layer's rulebook for ``x``: reused from ``x.indice_dict[indice_key]`` where a
        layer with the same key made one (submanifold layers on the same voxels; the
        strided convolution an inverse one undoes), else built and stored there."""
        key = self.indice_key
        if self.inverse:
            if key not in x.indice_dict:
                raise ValueError(f"no convolution stored a rulebook under indice_key {key!r}")
            book = x.indice_dict[key]
            if book.kernel_size != self.kernel_size:
                raise ValueError(
                    f"indice_key {key!r} was made with kernel {book.kernel_size}, this inverse "
                    f"convolution has {self.kernel_size}"
                )
            return book.inverted()
        if key is not None and key in x.indice_dict:
            book = x.indice_dict[key]
            same_kind = (
                book.kernel_size == self.kernel_size and (book.identity is not None) == self.subm
            )
            same_voxels = book.in_coords is x.indices or torch.equal(book.in_coords, x.indices)
            if same_kind and same_voxels:
                return book
        if self.subm:
            centre = [k // 2 * d for k, d in zip(self.kernel_size, self.dilation)]
            neighbors = sparse_conv_neighbors(
                x.indices,
                x.indices,
                x.spatial_shape,
                self.kernel_size,
                1,
                centre,
                self.dilation,
                check_unique=False,
            )
            identity = math.prod(self.kernel_size) // 2
            pair_in, pair_out, counts = sparse_conv_pairs(neighbors, skip_offset=identity)
            out_coords, out_shape = x.indices, x.spatial_shape
        else:
            identity = None
            out_coords, out_shape = sparse_conv_output_coords(
                x.indices,
                x.spatial_shape,
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
            )
            neighbors = sparse_conv_neighbors(
                x.indices,
                out_coords,
                x.spatial_shape,
                self.kernel_size,
                self.stride,
                self.padding,
                self.dilation,
                check_unique=False,
            )
            pair_in, pair_out, counts = sparse_conv_pairs(neighbors)
        book = Rulebook(
            pair_in,
            pair_out,
            counts,
            identity,
            x.indices,
            out_coords,
            list(x.spatial_shape),
            list(out_shape),
            list(self.kernel_size),
            neighbors,
        )
        if key is not None:
            x.indice_dict[key] = book
        return book

    def map_forward(self, features: torch.Tensor, neighbors: torch.Tensor) -> torch.Tensor:
        """The convolution from a neighbour map: ``features (N_in, C_in)``, ``neighbors
        (N_out, K)`` each output's input row per kernel offset (``-1``: none; a rulebook's
        ``neighbors``) -> ``(N_out, C_out)``. One gather and one matrix multiply, no
        scatter: the form an exporter writes (equal to :meth:`forward`)."""
        table = torch.cat([features, features.new_zeros((1, features.shape[1]))])
        rows = table[torch.where(neighbors >= 0, neighbors, features.shape[0])]  # (N, K, C)
        kernels = self.weight.permute(1, 2, 3, 4, 0).reshape(-1, self.out_channels)
        out = rows.reshape(rows.shape[0], -1) @ kernels
        return out if self.bias is None else out + self.bias

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        if not isinstance(x, SparseConvTensor):
            raise TypeError(
                f"{type(self).__name__} takes a SparseConvTensor (got {type(x).__name__})"
            )
        if x.features.shape[1] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__} expects {self.in_channels} input channels, got "
                f"{x.features.shape[1]}"
            )
        if x.features.dtype != self.weight.dtype:
            raise ValueError(
                f"{type(self).__name__} has {self.weight.dtype} weights but the features are "
                f"{x.features.dtype}"
            )
        if self.backend == "spconv":
            from geo3d.nn.spconv_interop import spconv_forward

            return spconv_forward(self, x)
        book = self.rulebook(x)
        features = sparse_conv_features(x.features, self.weight, book, book.out_coords.shape[0])
        if self.bias is not None:
            features = features + self.bias
        out = SparseConvTensor.__new__(SparseConvTensor)
        out.features, out.indices = features, book.out_coords
        out.spatial_shape, out.batch_size = list(book.out_shape), x.batch_size
        out.indice_dict, out.spconv_tensor = x.indice_dict, None
        return out


class SubMConv3d(SparseConvolution):
    """Submanifold convolution: the output voxels are the input voxels (spconv's
    ``SubMConv3d``). Layers with the same ``indice_key`` on the same voxels share one
    rulebook."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        dilation=1,
        bias=True,
        indice_key=None,
        backend="geo3d",
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            1,
            0,
            dilation,
            bias,
            subm=True,
            indice_key=indice_key,
            backend=backend,
        )


class SparseConv3d(SparseConvolution):
    """Strided sparse convolution: every output position some active input reaches
    (spconv's ``SparseConv3d``); with ``indice_key`` its rulebook is kept for a
    :class:`SparseInverseConv3d`."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        indice_key=None,
        backend="geo3d",
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            bias,
            indice_key=indice_key,
            backend=backend,
        )


class SparseInverseConv3d(SparseConvolution):
    """The strided convolution stored under ``indice_key`` run backwards: back onto its
    input voxels and grid, with the same pairs (spconv's ``SparseInverseConv3d``)."""

    def __init__(
        self, in_channels, out_channels, kernel_size, indice_key, bias=True, backend="geo3d"
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            bias=bias,
            inverse=True,
            indice_key=indice_key,
            backend=backend,
        )


class SparseSequential(nn.Sequential):
    """Layers in order: sparse layers (and nested sequences) take the tensor, any other
    module (BatchNorm1d, ReLU, Linear) is applied to its features."""

    def forward(self, x: SparseConvTensor) -> SparseConvTensor:
        for module in self:
            if isinstance(module, SparseModule | SparseSequential):
                x = module(x)
            else:
                x = x.replace_feature(module(x.features))
        return x


def sparse_tensor_from_voxels(
    features: torch.Tensor, coords: torch.Tensor, spatial_shape: Sequence[int], batch_size: int
) -> SparseConvTensor:
    """A :class:`SparseConvTensor` from voxel features ``(N, C)`` and ``coords (N, 4)``
    ``(batch, z, y, x)`` (any integer dtype)."""
    return SparseConvTensor(
        features, coords.to(torch.int32).contiguous(), list(spatial_shape), batch_size
    )
