"""What differs between tasks in the one training loop: how a batch splits into model
inputs and targets, what the loss sees, and which metrics are summed and reported.

Metrics are accumulated as sums (counts, per-class tallies) so that batches and
processes add up exactly, with no padding and no sample counted twice.
"""

from __future__ import annotations

import torch

from geo3d.metrics.classification import accuracy_from_sums, classification_sums
from geo3d.metrics.segmentation import segmentation_metrics, segmentation_sums


def _to(value, device):
    return value.to(device) if hasattr(value, "to") else value


class ClassificationTask:
    """Point or mesh classification: ``oa`` (overall accuracy) and ``macc`` (mean class
    accuracy over the classes present), as :mod:`geo3d.metrics.classification`."""

    primary = "oa"

    def __init__(self, num_classes: int, collate_fn=None):
        self.num_classes, self.collate_fn = num_classes, collate_fn

    def split(self, batch, device):
        inputs, targets = batch
        inputs = inputs if isinstance(inputs, tuple | list) else (inputs,)
        return tuple(_to(x, device) for x in inputs), _to(targets, device)

    def loss_targets(self, targets):
        return targets

    def batch_sums(self, model, outputs, targets) -> dict[str, torch.Tensor]:
        return classification_sums(model.predict(outputs).cpu(), targets.cpu(), self.num_classes)

    def metrics(self, sums) -> dict[str, float]:
        return accuracy_from_sums(sums)


class MeshSegmentationTask(ClassificationTask):
    """Per-edge labels: ``soft_acc`` (MeshCNN's reported accuracy), ``edge_acc``,
    ``face_acc`` and ``miou`` (:mod:`geo3d.metrics.segmentation`)."""

    primary = "soft_acc"

    def loss_targets(self, targets):
        return targets.edge_labels

    def batch_sums(self, model, outputs, targets) -> dict[str, torch.Tensor]:
        return segmentation_sums(
            outputs.detach(),
            targets.edge_labels,
            targets.soft_labels,
            targets.edge_areas,
            targets.edge_ptr,
            targets.edge_faces,
            targets.face_labels,
            self.num_classes,
        )

    def metrics(self, sums) -> dict[str, float]:
        return segmentation_metrics(sums)


def add_sums(total: dict | None, batch: dict) -> dict:
    if total is None:
        return {k: list(v) if isinstance(v, list) else v.clone() for k, v in batch.items()}
    for key, value in batch.items():
        if isinstance(value, list):  # per-frame records (detection): gathered, not summed
            total[key] = total.get(key, []) + value
        else:
            total[key] = total[key] + value if key in total else value.clone()
    return total


def make_task(data) -> ClassificationTask:
    """The task that evaluates a :class:`geo3d.data.DataBundle`: classification of points
    or meshes, or MeshCNN's per-edge segmentation."""
    if data.task == "classification":
        return ClassificationTask(len(data.classes), data.collate_fn)
    if data.task == "segmentation" and data.kind == "meshes":
        return MeshSegmentationTask(len(data.classes), data.collate_fn)
    if data.task == "detection":
        return DetectionTask(data.classes, data.collate_fn)
    raise ValueError(f"no training task for {data.kind} {data.task} yet")


class DetectionTask:
    """LiDAR detection: inputs ``(points, batch, scenes)``, targets ``(boxes, labels,
    num_boxes)`` from :func:`geo3d.data.collate.collate_scenes`; metrics are BEV and 3D AP
    in the LiDAR frame (:func:`geo3d.metrics.lidar_eval`), summarised as ``map_bev`` (the
    mean over classes of the moderate BEV R40 AP, the primary metric) and ``map_3d``."""

    primary = "map_bev"

    def __init__(self, classes: list[str], collate_fn=None):
        self.classes, self.num_classes, self.collate_fn = list(classes), len(classes), collate_fn

    def split(self, batch, device):
        scenes = torch.tensor(batch["num_boxes"].shape[0])
        inputs = (batch["points"].to(device), batch["batch"].to(device), scenes)
        targets = tuple(batch[k].to(device) for k in ("boxes", "box_labels", "num_boxes"))
        return inputs, targets

    def loss_targets(self, targets):
        return targets

    def batch_sums(self, model, outputs, targets) -> dict[str, list]:
        """Per scene, the ground truth and the decoded detections (listed, not summed: AP
        needs every frame)."""
        boxes, labels, num_boxes = (t.cpu() for t in targets)
        frames = {"gt": [], "dt": []}
        for b, found in enumerate(model.predict(outputs)):
            n = int(num_boxes[b])
            names = [self.classes[int(k)] for k in labels[b, :n]]
            frames["gt"].append({"boxes": boxes[b, :n].double().numpy(), "names": names})
            frames["dt"].append(
                {
                    "boxes": found["boxes"].detach().cpu().double().numpy(),
                    "names": [self.classes[int(k)] for k in found["labels"].cpu()],
                    "scores": found["scores"].detach().cpu().double().numpy(),
                }
            )
        return frames

    def metrics(self, sums) -> dict[str, float]:
        from geo3d.metrics.lidar_detection import lidar_eval

        if not sums["gt"]:
            raise ValueError("no scenes to evaluate")
        ap = lidar_eval(sums["gt"], sums["dt"], classes=tuple(self.classes))
        results = {}
        for metric in ("bev", "3d"):
            values = [ap[f"{name}_{metric}_moderate_R40"] for name in self.classes]
            results[f"map_{metric}"] = sum(values) / len(values) / 100
        for key, value in ap.items():  # R40 per class and level, as fractions like the others
            if key.endswith("_R40"):
                results[key[: -len("_R40")]] = value / 100
        return results
