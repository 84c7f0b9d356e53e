"""spconv interoperability for :mod:`geo3d.nn.sparse_conv`: tensors both ways, a geo3d
layer run on spconv's kernels with the same parameters (``backend="spconv"``), and the
one-thread guard spconv's CPU convolutions need."""

from __future__ import annotations

import torch

from geo3d.nn.sparse_conv import SparseConvolution, SparseConvTensor
from geo3d.optional import require


def to_spconv(x: SparseConvTensor):
    """The same voxels as a ``spconv.pytorch.SparseConvTensor`` (rulebooks not carried)."""
    spconv = require("spconv.pytorch", "converting to spconv")

    return spconv.SparseConvTensor(x.features, x.indices, list(x.spatial_shape), x.batch_size)


def from_spconv(tensor) -> SparseConvTensor:
    """A spconv ``SparseConvTensor`` as geo3d's (same features, indices, grid)."""
    return SparseConvTensor(
        tensor.features,
        tensor.indices.to(torch.int32),
        list(tensor.spatial_shape),
        tensor.batch_size,
    )


def _spconv_layer(layer: SparseConvolution):
    """spconv's module for ``layer``, sharing its parameters (built once)."""
    cached = layer.__dict__.get("_spconv")
    if cached is not None:
        return cached
    spconv = require("spconv.pytorch", "the spconv backend")

    common = {"bias": layer.bias is not None, "indice_key": layer.indice_key}
    if layer.subm:
        module = spconv.SubMConv3d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            dilation=layer.dilation,
            **common,
        )
    elif layer.inverse:
        module = spconv.SparseInverseConv3d(
            layer.in_channels, layer.out_channels, layer.kernel_size, **common
        )
    else:
        module = spconv.SparseConv3d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            dilation=layer.dilation,
            **common,
        )
    module.weight = layer.weight  # one parameter, one layout
    if layer.bias is not None:
        module.bias = layer.bias
    layer.__dict__["_spconv"] = module  # not a submodule: the state dict stays geo3d's
    return module


def spconv_cpu_call(module, *args):
    """``module(*args)`` for spconv on the CPU, with one torch thread: spconv 2.3.8's CPU
    convolutions give wrong, run-to-run different results with several threads (measured
    here: errors of 0.4 on unit-scale features with 2 threads, none with 1, against a
    dense ``conv3d``; spconv issue #679)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return module(*args)
    finally:
        torch.set_num_threads(threads)


def spconv_forward(layer: SparseConvolution, x: SparseConvTensor) -> SparseConvTensor:
    source = x.spconv_tensor if x.spconv_tensor is not None else to_spconv(x)
    module = _spconv_layer(layer)
    if x.features.is_cuda:
        result = module(source)
    else:
        result = spconv_cpu_call(module, source)
    out = from_spconv(result)
    out.spconv_tensor = result
    return out
