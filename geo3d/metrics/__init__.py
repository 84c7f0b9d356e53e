"""Metrics that follow the field's conventions."""

from geo3d.metrics.classification import (
    accuracy_from_sums,
    classification_metrics,
    classification_sums,
    mean_class_accuracy,
    overall_accuracy,
)
from geo3d.metrics.kitti import kitti_eval
from geo3d.metrics.lidar_detection import lidar_eval
from geo3d.metrics.segmentation import segmentation_metrics, segmentation_sums

__all__ = [
    "accuracy_from_sums",
    "classification_sums",
    "kitti_eval",
    "lidar_eval",
    "classification_metrics",
    "mean_class_accuracy",
    "overall_accuracy",
    "segmentation_metrics",
    "segmentation_sums",
]
