"""Readers of point-cloud files and of the KITTI object-detection layout."""

from geo3d.data.io.kitti import (
    KittiCalibration,
    KittiObject,
    kitti_objects_to_lidar_boxes,
    read_kitti_calibration,
    read_kitti_labels,
)
from geo3d.data.io.points import POINT_FORMATS, read_points

__all__ = [
    "POINT_FORMATS",
    "KittiCalibration",
    "KittiObject",
    "kitti_objects_to_lidar_boxes",
    "read_kitti_calibration",
    "read_kitti_labels",
    "read_points",
]
