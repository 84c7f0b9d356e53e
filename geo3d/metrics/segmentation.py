"""Mesh segmentation metrics, as sums that add over batches and processes.

- ``edge_acc``: the fraction of edges whose predicted label is the hard label.
- ``soft_acc``: MeshCNN's reported accuracy (the official ``seg_accuracy``): an edge is
  correct when its predicted label is one of its soft labels (``.seseg`` value above 0),
  weighted by the edge's area (a third of its faces' area, over the mesh's area), summed
  per mesh and averaged over meshes.
- ``face_acc``: where face labels are known, the fraction of faces whose label is the
  argmax of the summed class probabilities of the face's three edges.
- ``miou``: the mean over classes of the edge intersection over union (classes absent
  from both predictions and labels are skipped).
"""

from __future__ import annotations

import torch


def segmentation_sums(
    logits: torch.Tensor,
    edge_labels: torch.Tensor,
    soft_labels: torch.Tensor,
    edge_areas: torch.Tensor,
    edge_ptr: torch.Tensor,
    edge_faces: torch.Tensor,
    face_labels: torch.Tensor,
    num_classes: int,
) -> dict[str, torch.Tensor]:
    """Counts for :func:`segmentation_metrics` from one batch; ``logits (E, K)``."""
    predicted = logits.argmax(dim=1)
    valid = edge_labels >= 0
    correct = (predicted == edge_labels) & valid
    soft_hit = soft_labels.gather(1, predicted[:, None]).squeeze(1) > 0
    mesh = torch.repeat_interleave(
        torch.arange(edge_ptr.shape[0] - 1, device=logits.device), edge_ptr.diff()
    )
    per_mesh = torch.zeros(edge_ptr.shape[0] - 1, dtype=torch.float64, device=logits.device)
    per_mesh.index_add_(0, mesh, (soft_hit.double() * edge_areas.double()))
    labels_valid, predicted_valid = edge_labels[valid], predicted[valid]
    intersection = torch.bincount(
        labels_valid[predicted_valid == labels_valid], minlength=num_classes
    )
    union = (
        torch.bincount(labels_valid, minlength=num_classes)
        + torch.bincount(predicted_valid, minlength=num_classes)
        - intersection
    )
    sums = {
        "edges_correct": correct.sum().double(),
        "edges": valid.sum().double(),
        "soft_area_correct": per_mesh.sum(),
        "meshes": torch.tensor(float(edge_ptr.shape[0] - 1), dtype=torch.float64),
        "intersection": intersection.double(),
        "union": union.double(),
    }
    if face_labels.numel():
        probabilities = logits.float().softmax(dim=1)
        face_scores = torch.zeros(face_labels.shape[0], num_classes, device=logits.device)
        for side in range(2):
            has = edge_faces[:, side] >= 0
            face_scores.index_add_(0, edge_faces[has, side], probabilities[has])
        sums["faces_correct"] = (face_scores.argmax(dim=1) == face_labels).sum().double()
        sums["faces"] = torch.tensor(float(face_labels.shape[0]), dtype=torch.float64)
    return {k: v.cpu() for k, v in sums.items()}


def segmentation_metrics(sums: dict[str, torch.Tensor]) -> dict[str, float]:
    """``edge_acc``, ``soft_acc``, ``miou`` and, where faces were labelled, ``face_acc``."""
    if float(sums["edges"]) == 0:
        raise ValueError("no labelled edges to evaluate")
    present = sums["union"] > 0
    metrics = {
        "edge_acc": float(sums["edges_correct"] / sums["edges"]),
        "soft_acc": float(sums["soft_area_correct"] / sums["meshes"]),
        "miou": float((sums["intersection"][present] / sums["union"][present]).mean()),
    }
    if "faces" in sums and float(sums["faces"]) > 0:
        metrics["face_acc"] = float(sums["faces_correct"] / sums["faces"])
    return metrics
