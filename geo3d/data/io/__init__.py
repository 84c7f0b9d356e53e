"""Readers of point-cloud and mesh files and of the KITTI object-detection layout."""

from geo3d.data.io.kitti import (
    KittiCalibration,
    KittiObject,
    kitti_objects_to_lidar_boxes,
    read_kitti_calibration,
    read_kitti_labels,
)
from geo3d.data.io.meshes import MESH_FORMATS, read_mesh
from geo3d.data.io.points import POINT_FORMATS, read_points

__all__ = [
    "MESH_FORMATS",
    "POINT_FORMATS",
    "KittiCalibration",
    "KittiObject",
    "kitti_objects_to_lidar_boxes",
    "read_kitti_calibration",
    "read_kitti_labels",
    "read_mesh",
    "read_points",
]
