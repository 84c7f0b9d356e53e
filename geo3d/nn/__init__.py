"""Layers: positional encodings, mesh convolution, per-segment normalisation."""

from geo3d.nn.mesh_conv import MeshConv, mesh_conv_stencil
from geo3d.nn.positional import trig_positional_encoding
from geo3d.nn.segment_norm import SegmentGroupNorm, segment_group_norm

__all__ = [
    "MeshConv",
    "SegmentGroupNorm",
    "mesh_conv_stencil",
    "segment_group_norm",
    "trig_positional_encoding",
]
