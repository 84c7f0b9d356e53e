"""Layers and building blocks: positional encodings, sample-and-group, point-wise MLP
blocks, mesh convolution, per-segment normalisation, sparse 3D convolution."""

from geo3d.nn.grouping import GroupingPlan, PointGroups, group, plan_groups, sample_and_group
from geo3d.nn.mesh_conv import MeshConv, mesh_conv_stencil
from geo3d.nn.mlp import LinearBNReLU, ResidualBottleneck
from geo3d.nn.positional import trig_positional_encoding
from geo3d.nn.segment_norm import SegmentGroupNorm, segment_group_norm
from geo3d.nn.sparse_conv import (
    SparseConv3d,
    SparseConvTensor,
    SparseInverseConv3d,
    SparseSequential,
    SubMConv3d,
)

__all__ = [
    "GroupingPlan",
    "LinearBNReLU",
    "MeshConv",
    "PointGroups",
    "ResidualBottleneck",
    "SegmentGroupNorm",
    "SparseConv3d",
    "SparseConvTensor",
    "SparseInverseConv3d",
    "SparseSequential",
    "SubMConv3d",
    "group",
    "mesh_conv_stencil",
    "plan_groups",
    "sample_and_group",
    "segment_group_norm",
    "trig_positional_encoding",
]
