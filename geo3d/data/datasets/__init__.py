"""Data sets read from their standard on-disk layouts."""

from geo3d.data.datasets.detection import KITTI_CLASSES, KittiDetection, PointCloudBoxesFolder
from geo3d.data.datasets.meshcnn import MeshClassificationFolder, MeshSegmentationFolder
from geo3d.data.datasets.modelnet import ModelNetMeshFolder
from geo3d.data.datasets.point_layouts import (
    SCANOBJECTNN_VARIANTS,
    ModelNetH5,
    ModelNetNormalResampled,
    ScanObjectNN,
    ShapeNetPart,
)

__all__ = [
    "KITTI_CLASSES",
    "SCANOBJECTNN_VARIANTS",
    "KittiDetection",
    "MeshClassificationFolder",
    "MeshSegmentationFolder",
    "ModelNetH5",
    "ModelNetMeshFolder",
    "ModelNetNormalResampled",
    "PointCloudBoxesFolder",
    "ScanObjectNN",
    "ShapeNetPart",
]
