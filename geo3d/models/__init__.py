"""Whole models: the Pipeline and the model zoo (one registry)."""

from geo3d.models.centerpoint_voxel import CenterPointVoxel, centerpoint_voxel
from geo3d.models.dsvt import DSVTPillar, DSVTVoxel, dsvt_pillar, dsvt_voxel, pvt_pillar
from geo3d.models.meshcnn import (
    MeshCNNClassifier,
    MeshCNNSegmenter,
    meshcnn_classifier,
    meshcnn_segmenter,
)
from geo3d.models.pipeline import Pipeline, classification_loss
from geo3d.models.point_models import PlugAndPlay, PointNN, PointPN, point_nn, point_pn
from geo3d.models.pointpillars import PointPillars, pointpillars
from geo3d.models.registry import available_models, create_model, register_model

__all__ = [
    "CenterPointVoxel",
    "centerpoint_voxel",
    "DSVTPillar",
    "dsvt_pillar",
    "DSVTVoxel",
    "dsvt_voxel",
    "pvt_pillar",
    "MeshCNNClassifier",
    "MeshCNNSegmenter",
    "Pipeline",
    "PlugAndPlay",
    "PointNN",
    "PointPN",
    "PointPillars",
    "available_models",
    "classification_loss",
    "create_model",
    "meshcnn_classifier",
    "meshcnn_segmenter",
    "point_nn",
    "point_pn",
    "pointpillars",
    "register_model",
]
