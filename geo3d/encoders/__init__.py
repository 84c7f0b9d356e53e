"""Whole backbones."""

from geo3d.encoders.meshcnn import (
    MeshCNNEncoder,
    MeshSegmentationHead,
    MeshUNet,
    MeshUNetEncoder,
)
from geo3d.encoders.point_nn import PointNNEncoder
from geo3d.encoders.point_pn import PointPNEncoder

__all__ = [
    "MeshCNNEncoder",
    "MeshSegmentationHead",
    "MeshUNet",
    "MeshUNetEncoder",
    "PointNNEncoder",
    "PointPNEncoder",
]
