"""Plain tensor structures: point batches (padded and packed), 3D boxes, meshes."""

from geo3d.structures.boxes import (
    BOX_DIM,
    box_corners,
    check_boxes,
    count_points_in_boxes,
    points_in_boxes,
    rotate_points_z,
)
from geo3d.structures.mesh_edges import MeshEdges, mesh_edges
from geo3d.structures.meshes import Mesh, check_mesh, sample_surface
from geo3d.structures.points import batch_to_ptr, packed_to_padded, padded_to_packed, ptr_to_batch

__all__ = [
    "BOX_DIM",
    "Mesh",
    "MeshEdges",
    "batch_to_ptr",
    "box_corners",
    "check_boxes",
    "check_mesh",
    "count_points_in_boxes",
    "mesh_edges",
    "packed_to_padded",
    "padded_to_packed",
    "points_in_boxes",
    "ptr_to_batch",
    "rotate_points_z",
    "sample_surface",
]
