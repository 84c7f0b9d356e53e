"""Cross-entropy losses of the classifiers and segmenters, as ``(outputs, targets) ->
{"loss": scalar}`` functions that a :class:`geo3d.models.Pipeline` takes as ``loss_fn``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def classification_loss(label_smoothing: float = 0.0) -> Callable:
    """Cross-entropy on ``logits (B, K)`` and ``labels (B,)``, with label smoothing
    (Point-PN trains with 0.4)."""
    if not 0 <= label_smoothing < 1:
        raise ValueError(f"'label_smoothing' must be in [0, 1) (got {label_smoothing})")

    def loss(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            "loss": nn.functional.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        }

    return loss


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Cross-entropy over all edges (or points) of a batch, ``logits (E, K)`` and ``labels
    (E,)``, labels ``-1`` ignored (MeshCNN's loss, ``ignore_index=-1``)."""
    return {"loss": nn.functional.cross_entropy(logits, labels, ignore_index=-1)}
