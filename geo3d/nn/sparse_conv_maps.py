"""The neighbour-map form of a sparse network, the one an exporter writes: the index work
(:func:`neighbor_maps`: every convolution's rulebook neighbours, per output voxel and kernel
offset the input row or ``-1``) done once outside the graph, and the features run through
one gather and one matrix multiply per layer (:func:`map_forward`), no scatter."""

from __future__ import annotations

import torch
from torch import nn

from geo3d.nn.sparse_conv import (
    SparseConvolution,
    SparseConvTensor,
    SparseModule,
    SparseSequential,
)


def map_forward(module: nn.Module, features: torch.Tensor, maps: dict) -> torch.Tensor:
    """A sparse network on features with neighbour maps by ``indice_key``
    (:func:`neighbor_maps`): convolutions by :meth:`SparseConvolution.map_forward`, blocks
    by their own ``map_forward``, other modules on the features."""
    if isinstance(module, SparseConvolution):
        return module.map_forward(features, maps[module.indice_key])
    if isinstance(module, SparseSequential):
        for child in module:
            features = map_forward(child, features, maps)
        return features
    if hasattr(module, "map_forward"):
        return module.map_forward(features, maps)
    if isinstance(module, SparseModule):
        raise NotImplementedError(f"{type(module).__name__} has no neighbour-map form")
    return module(features)


def neighbor_maps(module: nn.Module, indices: torch.Tensor, spatial_shape) -> tuple:
    """The index work of :func:`map_forward`: every convolution of ``module`` in order on the
    voxels ``indices (N, 4)`` int32 of grid ``spatial_shape`` -> ``(maps, levels, out
    indices, out shape)``: ``maps`` the neighbour map per ``indice_key`` in order of first
    use, ``levels`` per key the name of its output voxel set (``voxels``, then one per
    strided convolution), as for a module whose forward runs its convolutions in
    registration order (SECOND's backbone)."""
    x = SparseConvTensor.__new__(SparseConvTensor)
    x.features, x.indices, x.spatial_shape = None, indices, list(spatial_shape)
    x.batch_size, x.indice_dict, x.spconv_tensor = 1, {}, None
    maps, levels, level = {}, {}, "voxels"
    for layer in module.modules():
        if not isinstance(layer, SparseConvolution):
            continue
        if layer.inverse or layer.indice_key is None:
            raise NotImplementedError("neighbour maps need keyed, non-inverse convolutions")
        book = layer.rulebook(x)
        if not layer.subm:
            level = f"voxels_{layer.indice_key}"
        if layer.indice_key not in maps:
            maps[layer.indice_key], levels[layer.indice_key] = book.neighbors, level
        if book.out_coords is not x.indices:
            out = SparseConvTensor.__new__(SparseConvTensor)
            out.__dict__.update(x.__dict__)
            out.indices, out.spatial_shape = book.out_coords, list(book.out_shape)
            x = out
    return maps, levels, x.indices, x.spatial_shape
