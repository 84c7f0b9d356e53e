"""Data sets read from their standard on-disk layouts."""

from geo3d.data.datasets.detection import KITTI_CLASSES, KittiDetection, PointCloudBoxesFolder
from geo3d.data.datasets.modelnet import ModelNetMeshFolder

__all__ = ["KITTI_CLASSES", "KittiDetection", "ModelNetMeshFolder", "PointCloudBoxesFolder"]
