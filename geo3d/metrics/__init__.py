"""Metrics as the papers report them."""

from geo3d.metrics.classification import (
    classification_metrics,
    mean_class_accuracy,
    overall_accuracy,
)

__all__ = ["classification_metrics", "mean_class_accuracy", "overall_accuracy"]
