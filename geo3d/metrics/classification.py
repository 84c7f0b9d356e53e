"""Classification metrics: overall accuracy (OA) and mean class accuracy (mAcc).

mAcc is the mean over classes of each class's accuracy, over the classes present in the
targets (PointNet++'s and Point-NN's evaluation scripts). Both come from per-class sums
(:func:`classification_sums`), so batches and processes add up exactly; the functions on
whole prediction tensors are the same computation on one batch.
"""

from __future__ import annotations

import torch


def _check(predictions: torch.Tensor, targets: torch.Tensor) -> None:
    if predictions.shape != targets.shape or targets.numel() == 0:
        raise ValueError(
            f"predictions {tuple(predictions.shape)} and targets {tuple(targets.shape)} "
            "must match and not be empty"
        )


def classification_sums(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int
) -> dict[str, torch.Tensor]:
    """``{"correct": (K,), "total": (K,)}`` float64 per-class counts of one batch."""
    totals = torch.bincount(targets, minlength=num_classes).double()
    correct = torch.bincount(targets[predictions == targets], minlength=num_classes).double()
    return {"correct": correct, "total": totals}


def accuracy_from_sums(sums: dict[str, torch.Tensor]) -> dict[str, float]:
    """``{"oa", "macc"}`` from (added-up) :func:`classification_sums`."""
    total = sums["total"]
    if float(total.sum()) == 0:
        raise ValueError("no samples to evaluate")
    present = total > 0
    return {
        "oa": float(sums["correct"].sum() / total.sum()),
        "macc": float((sums["correct"][present] / total[present]).mean()),
    }


def classification_metrics(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None
) -> dict:
    """``{"oa", "macc"}`` of whole prediction and target tensors."""
    _check(predictions, targets)
    num_classes = num_classes or int(targets.max()) + 1
    return accuracy_from_sums(classification_sums(predictions, targets, num_classes))


def overall_accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    return classification_metrics(predictions, targets)["oa"]


def mean_class_accuracy(
    predictions: torch.Tensor, targets: torch.Tensor, num_classes: int | None = None
) -> float:
    return classification_metrics(predictions, targets, num_classes)["macc"]
