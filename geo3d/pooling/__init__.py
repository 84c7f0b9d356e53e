"""Pooling families behind one select-then-reduce idea (docs/ARCHITECTURE.md): sets (kNN
groups, packed segments) by max, mean, max+mean, SoftPool or attention; SoftPool on grids;
DSVT's attention pooling of voxel windows; SoftPoolNet's sorted features; a voxel feature
encoder with any of them; MeshCNN's edge collapse."""

from geo3d.ops.soft_pool import soft_pool1d, soft_pool2d, soft_pool3d
from geo3d.pooling.edge_collapse import (
    MeshPool,
    MeshUnpool,
    PoolRecord,
    mesh_pool,
    mesh_unpool,
    pool_targets,
)
from geo3d.pooling.set_pool import (
    POOLINGS,
    AttentionPool,
    SetPool,
    make_pooling,
    pool_groups,
    pool_segments,
)
from geo3d.pooling.softpoolnet import SoftPoolNetPool, soft_pool_features
from geo3d.pooling.voxel_encoder import VoxelAssigner, VoxelFeatureEncoder
from geo3d.pooling.window_attention import WindowAttentionPool, pool_voxel_windows, window_slots

__all__ = [
    "POOLINGS",
    "AttentionPool",
    "MeshPool",
    "MeshUnpool",
    "PoolRecord",
    "SetPool",
    "SoftPoolNetPool",
    "VoxelAssigner",
    "VoxelFeatureEncoder",
    "WindowAttentionPool",
    "make_pooling",
    "mesh_pool",
    "mesh_unpool",
    "pool_groups",
    "pool_segments",
    "pool_targets",
    "pool_voxel_windows",
    "soft_pool_features",
    "window_slots",
    "soft_pool1d",
    "soft_pool2d",
    "soft_pool3d",
]
