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
    num_boxes)`` from :func:`geo3d.data.collate.collate_scenes`.

    Metrics: KITTI's official evaluation (:func:`geo3d.metrics.kitti_eval`: 2D box, BEV,
    3D and AOS AP in the camera frame, detections converted as OpenPCDet's
    ``generate_prediction_dicts`` does) where the scenes carry a
    :class:`geo3d.data.io.KittiFrame` (the ``kitti`` data set), else BEV and 3D AP in the
    LiDAR frame (:func:`geo3d.metrics.lidar_eval`). Both are summarised as ``map_bev``
    (the mean over classes of the moderate BEV R40 AP, the primary metric) and ``map_3d``,
    with every R40 AP as ``<class>_<metric>_<level>``, as fractions (R40 is KITTI's
    benchmark average since 2019; the R11 ones come from calling the metric itself)."""

    primary = "map_bev"

    def __init__(self, classes: list[str], collate_fn=None):
        self.classes, self.num_classes, self.collate_fn = list(classes), len(classes), collate_fn

    def split(self, batch, device):
        scenes = torch.tensor(batch["num_boxes"].shape[0])
        inputs = (batch["points"].to(device), batch["batch"].to(device), scenes)
        targets = tuple(batch[k].to(device) for k in ("boxes", "box_labels", "num_boxes"))
        if "kitti" in batch:  # camera-frame records ride along for the evaluation only
            targets = (*targets, batch["kitti"])
        return inputs, targets

    def loss_targets(self, targets):
        return targets[:3]

    def batch_sums(self, model, outputs, targets) -> dict[str, list]:
        """Per scene, the ground truth and the decoded detections (listed, not summed: AP
        needs every frame); KITTI scenes add both as camera-frame annotation dicts."""
        boxes, labels, num_boxes = (t.cpu() for t in targets[:3])
        records = targets[3] if len(targets) > 3 else None
        frames = {"gt": [], "dt": []}
        if records is not None:
            frames.update(kitti_gt=[], kitti_dt=[])
        for b, found in enumerate(model.predict(outputs)):
            n = int(num_boxes[b])
            names = [self.classes[int(k)] for k in labels[b, :n]]
            frames["gt"].append({"boxes": boxes[b, :n].double().numpy(), "names": names})
            detected = {
                "boxes": found["boxes"].detach().cpu().double().numpy(),
                "names": [self.classes[int(k)] for k in found["labels"].cpu()],
                "scores": found["scores"].detach().cpu().double().numpy(),
            }
            frames["dt"].append(detected)
            if records is not None:
                record = records[b]
                if record.anno is None:
                    raise ValueError(
                        f"KITTI frame {record.frame_id} has no labels (label_2) to evaluate"
                    )
                frames["kitti_gt"].append(record.anno)
                frames["kitti_dt"].append(self.kitti_detections(found, record))
        return frames

    def kitti_detections(self, found: dict, record) -> dict:
        """One scene's decoded detections (``boxes (n, 7)``, ``labels``, ``scores``; LiDAR
        frame) as a camera-frame KITTI annotation dict for ``record`` (a
        :class:`geo3d.data.io.KittiFrame`)."""
        from geo3d.data.io.kitti import lidar_boxes_to_kitti_anno

        return lidar_boxes_to_kitti_anno(
            found["boxes"].detach().cpu().double().numpy(),
            [self.classes[int(k)] for k in found["labels"].cpu()],
            found["scores"].detach().cpu().double().numpy(),
            record.calibration,
            record.image_shape,
        )

    def metrics(self, sums) -> dict[str, float]:
        if not sums["gt"]:
            raise ValueError("no scenes to evaluate")
        if len(sums.get("kitti_gt", [])) == len(sums["gt"]):
            from geo3d.metrics.kitti import kitti_eval

            ap = kitti_eval(sums["kitti_gt"], sums["kitti_dt"], classes=tuple(self.classes))
        else:
            from geo3d.metrics.lidar_detection import lidar_eval

            ap = lidar_eval(sums["gt"], sums["dt"], classes=tuple(self.classes))
        results = {}
        for metric in ("bev", "3d"):
            values = [ap[f"{name}_{metric}_moderate_R40"] for name in self.classes]
            results[f"map_{metric}"] = sum(values) / len(values) / 100
        for key, value in ap.items():  # as fractions like the other tasks' metrics
            if key.endswith("_R40"):
                results[key[: -len("_R40")]] = value / 100
        return results
