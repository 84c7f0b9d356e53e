"""Classification metrics: overall accuracy (OA) and mean class accuracy (mAcc).

mAcc is the mean over classes of each class's accuracy, over the classes present in the
targets (PointNet++'s and Point-NN's evaluation scripts).
"""

from __future__ import annotations

import torch


def overall_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    if predictions.shape != targets.shape or targets.numel() == 0:
        raise ValueError(
            f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} must match and not be empty"
        )
    return float((predictions == targets).float().mean())


def mean_class_accuracy(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None
) -> float:
    overall_accuracy(predictions, targets)  # the same checks
    num_classes = num_classes or int(targets.max()) + 1
    totals = torch.bincount(targets, minlength=num_classes).float()
    correct = torch.bincount(targets[predictions == targets], minlength=num_classes).float()
    present = totals > 0
    return float((correct[present] / totals[present]).mean())


def classification_metrics(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None
) -> dict:
    return {
        "oa": overall_accuracy(predictions, targets),
        "macc": mean_class_accuracy(predictions, targets, num_classes),
    }
