"""Plain tensor structures: point batches (padded and packed), 3D boxes, meshes."""

from geo3d.structures.boxes import (
    BOX_DIM,
    box_corners,
    check_boxes,
    count_points_in_boxes,
    points_in_boxes,
    rotate_points_z,
)
from geo3d.structures.mesh_batch import MeshBatch
from geo3d.structures.mesh_edges import MeshEdges, faces_from_gemm, mesh_edges
from geo3d.structures.mesh_features import edge_areas, edge_features, edge_side_points
from geo3d.structures.mesh_repair import RepairReport, repair_mesh, simplify_mesh
from geo3d.structures.meshes import Mesh, check_mesh, sample_surface
from geo3d.structures.points import (
    batch_to_ptr,
    cat_shifted,
    counts_to_ptr,
    packed_to_padded,
    padded_to_packed,
    ptr_to_batch,
)
from geo3d.structures.voxels import VoxelGrid, hard_voxel_mask, points_in_range

__all__ = [
    "BOX_DIM",
    "Mesh",
    "MeshBatch",
    "MeshEdges",
    "RepairReport",
    "VoxelGrid",
    "batch_to_ptr",
    "box_corners",
    "cat_shifted",
    "check_boxes",
    "check_mesh",
    "count_points_in_boxes",
    "counts_to_ptr",
    "edge_areas",
    "edge_features",
    "edge_side_points",
    "faces_from_gemm",
    "mesh_edges",
    "packed_to_padded",
    "padded_to_packed",
    "points_in_boxes",
    "hard_voxel_mask",
    "points_in_range",
    "ptr_to_batch",
    "repair_mesh",
    "rotate_points_z",
    "sample_surface",
    "simplify_mesh",
]
