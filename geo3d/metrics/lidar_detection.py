"""Detection AP for scenes without a camera (geo3d's ``synthetic_lidar``, users' clouds with
boxes): KITTI's AP machinery (:mod:`geo3d.metrics.kitti`: per-threshold precision sampling,
R11 and R40, the same per-class IoU thresholds) on BEV and 3D boxes in the LiDAR frame, with
difficulty by how many points an object has and how far it is, since there is no 2D box,
occlusion or truncation to judge by.

Levels (a ground-truth box outside a level is ignored there, neither found nor missed; a
detection beyond the level's range is ignored the way KITTI ignores detections too short
for the level):

- easy: at least 40 points, within 30 m of the sensor (BEV distance);
- moderate: at least 20 points, within 50 m;
- hard: at least 5 points, any distance.
"""

from __future__ import annotations

import numpy as np
import torch

from geo3d.metrics.kitti import (
    CLASS_NAMES,
    DIFFICULTIES,
    STRICT_OVERLAPS,
    _packed_frames,
    _packed_overlaps,
    _precision,
    store_averages,
)
from geo3d.ops import box_iou_3d, box_iou_bev

MIN_POINTS = (40, 20, 5)
MAX_DISTANCE = (30.0, 50.0, float("inf"))


def _as_boxes(frame: dict, what: str, index: int) -> torch.Tensor:
    boxes = torch.as_tensor(np.asarray(frame["boxes"], dtype=np.float64)).reshape(-1, 7)
    if len(frame["names"]) != boxes.shape[0]:
        raise ValueError(
            f"{what}[{index}] has {boxes.shape[0]} boxes but {len(frame['names'])} names"
        )
    return boxes


def _clean(gt: dict, dt: dict, gt_boxes, dt_boxes, name: str, level: int):
    ignored_gt, ignored_dt, valid = [], [], 0
    points = np.asarray(gt.get("num_points", np.full(len(gt["names"]), 10**9)))
    gt_range = torch.linalg.norm(gt_boxes[:, :2], dim=1).numpy()
    dt_range = torch.linalg.norm(dt_boxes[:, :2], dim=1).numpy()
    for i, gt_name in enumerate(gt["names"]):
        if gt_name != name:
            ignored_gt.append(-1)
        elif points[i] >= MIN_POINTS[level] and gt_range[i] <= MAX_DISTANCE[level]:
            ignored_gt.append(0)
            valid += 1
        else:
            ignored_gt.append(1)
    for j, dt_name in enumerate(dt["names"]):
        if dt_range[j] > MAX_DISTANCE[level]:
            ignored_dt.append(1)
        else:
            ignored_dt.append(0 if dt_name == name else -1)
    return valid, ignored_gt, ignored_dt


def lidar_eval(
    gt_frames: list[dict], dt_frames: list[dict], classes=("Car", "Pedestrian", "Cyclist")
) -> dict[str, float]:
    """BEV and 3D AP per class and level, R11 and R40: ``{"Car_bev_moderate_R40": ...}``.

    Frames: ground truth ``{"boxes": (n, 7), "names": [n], "num_points": (n,)}`` (LiDAR frame,
    z at the centre; without ``num_points`` every box counts as well seen) and detections
    ``{"boxes": (m, 7), "names": [m], "scores": (m,)}``.
    """
    if len(gt_frames) != len(dt_frames):
        raise ValueError(
            f"{len(gt_frames)} ground-truth frames but {len(dt_frames)} detection frames"
        )
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown classes {unknown} (the IoU thresholds know {CLASS_NAMES})")
    gt_boxes = [_as_boxes(f, "gt_frames", i) for i, f in enumerate(gt_frames)]
    dt_boxes = [_as_boxes(f, "dt_frames", i) for i, f in enumerate(dt_frames)]
    for i, frame in enumerate(dt_frames):
        if len(frame.get("scores", ())) != dt_boxes[i].shape[0]:
            raise ValueError(f"dt_frames[{i}] needs one score per box")
    # The shared statistics read names, scores and alphas (unused here: no AOS); overlaps
    # are (detections, ground truth); there are no DontCare regions.
    gts = [{"name": list(f["names"]), "alpha": np.zeros(len(f["names"]))} for f in gt_frames]
    dts = [
        {
            "name": list(f["names"]),
            "score": np.asarray(f["scores"], np.float64),
            "alpha": np.zeros(len(f["names"])),
        }
        for f in dt_frames
    ]
    frames = _packed_frames(gts, dts, [np.zeros((0, 4))] * len(gts))
    overlaps = {
        "bev": _packed_overlaps([box_iou_bev(d, g).numpy() for g, d in zip(gt_boxes, dt_boxes)]),
        "3d": _packed_overlaps([box_iou_3d(d, g).numpy() for g, d in zip(gt_boxes, dt_boxes)]),
    }
    results = {}
    for name in classes:
        column = CLASS_NAMES.index(name)
        for level, level_name in enumerate(DIFFICULTIES):
            cleaned = [
                _clean(g, d, gb, db, name, level)
                for g, d, gb, db in zip(gt_frames, dt_frames, gt_boxes, dt_boxes)
            ]
            for metric, metric_name in ((1, "bev"), (2, "3d")):
                precision, _ = _precision(
                    cleaned,
                    frames,
                    overlaps[metric_name],
                    metric,
                    STRICT_OVERLAPS[metric, column],
                    False,
                )
                store_averages(results, f"{name}_{metric_name}_{level_name}", precision)
    return results
