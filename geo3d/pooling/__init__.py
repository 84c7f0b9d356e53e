"""Pooling families behind one select-then-reduce idea: MeshCNN's edge collapse so far."""

from geo3d.pooling.edge_collapse import (
    MeshPool,
    MeshUnpool,
    PoolRecord,
    mesh_pool,
    mesh_unpool,
    pool_targets,
)

__all__ = ["MeshPool", "MeshUnpool", "PoolRecord", "mesh_pool", "mesh_unpool", "pool_targets"]
