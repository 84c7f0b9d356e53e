"""Readers of point-cloud and mesh files and of the KITTI object-detection layout."""

from geo3d.data.io.kitti import (
    KITTI_IMAGE_SHAPE,
    KittiCalibration,
    KittiFrame,
    KittiObject,
    camera_field_of_view,
    kitti_objects_to_anno,
    kitti_objects_to_lidar_boxes,
    lidar_boxes_to_kitti_anno,
    read_image_shape,
    read_kitti_calibration,
    read_kitti_labels,
    write_kitti_labels,
)
from geo3d.data.io.meshes import MESH_FORMATS, read_mesh
from geo3d.data.io.points import POINT_FORMATS, read_points

__all__ = [
    "MESH_FORMATS",
    "POINT_FORMATS",
    "KITTI_IMAGE_SHAPE",
    "KittiCalibration",
    "KittiFrame",
    "KittiObject",
    "camera_field_of_view",
    "kitti_objects_to_anno",
    "kitti_objects_to_lidar_boxes",
    "lidar_boxes_to_kitti_anno",
    "read_image_shape",
    "read_kitti_calibration",
    "read_kitti_labels",
    "write_kitti_labels",
    "read_mesh",
    "read_points",
]
