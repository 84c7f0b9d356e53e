"""Metrics that follow the field's conventions."""

from geo3d.metrics.classification import (
    classification_metrics,
    mean_class_accuracy,
    overall_accuracy,
)
from geo3d.metrics.segmentation import segmentation_metrics, segmentation_sums

__all__ = [
    "classification_metrics",
    "mean_class_accuracy",
    "overall_accuracy",
    "segmentation_metrics",
    "segmentation_sums",
]
