"""Losses: plain functions of outputs and targets (focal and box regression losses arrive
with the detectors)."""

from geo3d.losses.cross_entropy import classification_loss, segmentation_loss

__all__ = ["classification_loss", "segmentation_loss"]
