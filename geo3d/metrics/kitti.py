"""KITTI's official 3D object detection metrics, on the CPU: 2D box, BEV, 3D and AOS average
precision per class and difficulty, with the 11-point and the 40-recall-point averages.

This computes what the official ``evaluate_object.cpp`` computes, as OpenPCDet's and
mmdetection3d's ``kitti_object_eval_python`` ports do (``eval.py``: ``clean_data``,
``compute_statistics_jit``, ``get_thresholds``, ``eval_class``, ``get_mAP``/``get_mAP_R40``),
quirks included, so that numbers compare with published ones:

- difficulty (easy, moderate, hard): a ground-truth box counts when its 2D box is taller
  than 40, 25, 25 pixels, its occlusion at most 0, 1, 2 and its truncation at most 0.15,
  0.3, 0.5; others are ignored (a detection matched to them is neither true nor false).
  Van is ignored for Car and Person_sitting for Pedestrian; detections shorter than the
  height limit are ignored. DontCare regions absorb false positives in the 2D metric only.
- a detection matches when its overlap is greater than the class's threshold (Car 0.7,
  Pedestrian and Cyclist 0.5 for every metric; the loose set: 0.7/0.5/0.5 for 2D boxes and
  0.5/0.25/0.25 for BEV and 3D).
- precision is sampled per score threshold, one per true positive, at most 41 thresholds
  spaced by recall (not at fixed recall levels), then made monotone; R11 averages samples
  0, 4, ..., 40 over 11 and R40 samples 1 to 40 over 40. So a perfect detector scores 100
  only with enough ground-truth objects: with 10 it scores 22.5 (R40) and 27.3 (R11), as in
  the official code.

Inputs are KITTI annotation dicts in the camera frame, one per frame: ``name`` (list of
str), ``truncated``, ``occluded``, ``alpha``, ``bbox (n, 4)``, ``dimensions (n, 3)`` as
(l, h, w) (OpenPCDet's order), ``location (n, 3)`` (bottom centre), ``rotation_y``, and
``score`` for detections. Overlaps use geo3d's exact rotated IoU (:func:`geo3d.ops.box_iou_bev`).
"""

from __future__ import annotations

import numpy as np
import torch

from geo3d.ops import box_iou_bev, kitti_statistics

CLASS_NAMES = ["Car", "Pedestrian", "Cyclist", "Van", "Person_sitting", "Truck"]
DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40, 25, 25)
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
METRICS = ("bbox", "bev", "3d")
# [metric (bbox, bev, 3d)][class index in CLASS_NAMES]: the strict and the loose thresholds.
STRICT_OVERLAPS = np.array([[0.7, 0.5, 0.5, 0.7, 0.5, 0.7]] * 3)
LOOSE_OVERLAPS = np.array(
    [
        [0.7, 0.5, 0.5, 0.7, 0.5, 0.5],
        [0.5, 0.25, 0.25, 0.5, 0.25, 0.5],
        [0.5, 0.25, 0.25, 0.5, 0.25, 0.5],
    ]
)
NUM_SAMPLE_POINTS = 41
_NO_DETECTION = -10000000


def image_box_overlap(boxes: np.ndarray, query: np.ndarray, criterion: int = -1) -> np.ndarray:
    """2D box overlaps ``(N, K)`` (``x1 y1 x2 y2``, no +1): IoU (``criterion -1``) or the
    intersection over the first box's area (``0``, for DontCare regions)."""
    boxes, query = (
        np.asarray(boxes, np.float64).reshape(-1, 4),
        np.asarray(query, np.float64).reshape(-1, 4),
    )
    iw = np.minimum(boxes[:, None, 2], query[None, :, 2]) - np.maximum(
        boxes[:, None, 0], query[None, :, 0]
    )
    ih = np.minimum(boxes[:, None, 3], query[None, :, 3]) - np.maximum(
        boxes[:, None, 1], query[None, :, 1]
    )
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area_b = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_q = (query[:, 2] - query[:, 0]) * (query[:, 3] - query[:, 1])
    union = area_b[:, None] + area_q[None, :] - inter if criterion == -1 else area_b[:, None]
    return np.where(inter > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _camera_to_bev(anno: dict) -> torch.Tensor:
    """Camera-frame boxes as geo3d boxes in the (x, z) plane: ``(x, z, -y_mid, l, w, h,
    -rotation_y)`` (the object's length axis points along ``(cos ry, -sin ry)`` in (x, z))."""
    loc = np.asarray(anno["location"], np.float64).reshape(-1, 3)
    # l, h, w; DontCare regions carry -1 sizes: empty boxes (never matched anyway)
    dims = np.clip(np.asarray(anno["dimensions"], np.float64).reshape(-1, 3), 0, None)
    ry = np.asarray(anno["rotation_y"], np.float64).reshape(-1)
    boxes = np.stack(
        [loc[:, 0], loc[:, 2], loc[:, 1] - dims[:, 1] / 2, dims[:, 0], dims[:, 2], dims[:, 1], -ry],
        axis=1,
    )
    return torch.from_numpy(boxes)


def _rotated_overlaps(gt: dict, dt: dict, three_d: bool) -> np.ndarray:
    """``(num_dt, num_gt)`` BEV or 3D IoU (y down, boxes from ``location.y - h`` to
    ``location.y``)."""
    a, b = _camera_to_bev(dt), _camera_to_bev(gt)
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    iou = box_iou_bev(a, b).numpy()
    area_a = (a[:, 3] * a[:, 4]).numpy()[:, None]
    area_b = (b[:, 3] * b[:, 4]).numpy()[None, :]
    inter = iou * (area_a + area_b) / (1 + iou)
    if not three_d:
        return iou
    low_a, high_a = (
        (a[:, 2] - a[:, 5] / 2).numpy()[:, None],
        (a[:, 2] + a[:, 5] / 2).numpy()[:, None],
    )
    low_b, high_b = (b[:, 2] - b[:, 5] / 2).numpy()[None], (b[:, 2] + b[:, 5] / 2).numpy()[None]
    inter = inter * np.clip(np.minimum(high_a, high_b) - np.maximum(low_a, low_b), 0, None)
    volume = area_a * a[:, 5].numpy()[:, None] + area_b * b[:, 5].numpy()[None] - inter
    return np.where(volume > 0, inter / np.where(volume > 0, volume, 1.0), 0.0)


def _dontcare_boxes(gt: dict) -> np.ndarray:
    """The frame's DontCare regions ``(n, 4)``."""
    boxes = [b for b, n in zip(gt["bbox"], gt["name"]) if n == "DontCare"]
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def _clean(gt: dict, dt: dict, name: str, difficulty: int):
    """The official ``clean_data``: per ground truth 0 (counts), 1 (ignored) or -1 (another
    class); per detection 0, 1 (too short) or -1; the number counted."""
    ignored_gt, ignored_dt, valid = [], [], 0
    lowered = name.lower()
    for i, gt_name in enumerate(gt["name"]):
        bbox = gt["bbox"][i]
        height = bbox[3] - bbox[1]
        g = gt_name.lower()
        if g == lowered:
            kind = 1
        elif (lowered == "pedestrian" and g == "person_sitting") or (
            lowered == "car" and g == "van"
        ):
            kind = 0
        else:
            kind = -1
        hard = (
            gt["occluded"][i] > MAX_OCCLUSION[difficulty]
            or gt["truncated"][i] > MAX_TRUNCATION[difficulty]
            or height <= MIN_HEIGHT[difficulty]
        )
        if kind == 1 and not hard:
            ignored_gt.append(0)
            valid += 1
        elif kind == 0 or (hard and kind == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
    for i, dt_name in enumerate(dt["name"]):
        height = abs(dt["bbox"][i][3] - dt["bbox"][i][1])
        if height < MIN_HEIGHT[difficulty]:
            ignored_dt.append(1)
        elif dt_name.lower() == lowered:
            ignored_dt.append(0)
        else:
            ignored_dt.append(-1)
    return valid, ignored_gt, ignored_dt


def score_thresholds(scores: list[float], num_gt: int, num_points: int = NUM_SAMPLE_POINTS):
    """The official ``get_thresholds``: at most ``num_points`` scores of true positives,
    spaced by recall."""
    scores = sorted(scores, reverse=True)
    current, chosen = 0.0, []
    for i, score in enumerate(scores):
        left = (i + 1) / num_gt
        right = (i + 2) / num_gt if i < len(scores) - 1 else left
        if (right - current) < (current - left) and i < len(scores) - 1:
            continue
        chosen.append(score)
        current += 1 / (num_points - 1.0)
    return chosen


def _packed_overlaps(overlaps: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Per-frame ``(num_dt, num_gt)`` overlaps, flattened and concatenated, with offsets."""
    sizes = [o.size for o in overlaps]
    flat = np.concatenate([o.reshape(-1) for o in overlaps]) if overlaps else np.zeros(0)
    return {
        "overlaps": torch.from_numpy(np.ascontiguousarray(flat, np.float64)),
        "overlap_ptr": torch.tensor([0, *np.cumsum(sizes).tolist()], dtype=torch.int64),
    }


def _packed_frames(gt_annos, dt_annos, dontcare: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """What every class and difficulty shares: offsets, scores, alphas and the detections'
    overlaps with each frame's DontCare regions (intersection over the detection's area)."""

    def ptr(counts):
        return torch.tensor([0, *np.cumsum(counts).tolist()], dtype=torch.int64)

    def column(annos, key):
        values = [np.asarray(a[key], np.float64).reshape(-1) for a in annos]
        return torch.from_numpy(np.concatenate(values) if values else np.zeros(0))

    to_dontcare = [
        image_box_overlap(np.asarray(d["bbox"]), dc, 0).reshape(-1)
        if len(dc) and len(d["name"])
        else np.zeros(0)
        for d, dc in zip(dt_annos, dontcare)
    ]
    return {
        "gt_ptr": ptr([len(g["name"]) for g in gt_annos]),
        "dt_ptr": ptr([len(d["name"]) for d in dt_annos]),
        "scores": column(dt_annos, "score"),
        "gt_alpha": column(gt_annos, "alpha"),
        "dt_alpha": column(dt_annos, "alpha"),
        "dontcare": torch.from_numpy(
            np.concatenate(to_dontcare) if to_dontcare else np.zeros(0)
        ).double(),
        "dontcare_ptr": ptr([len(dc) for dc in dontcare]),
    }


def _precision(cleaned, frames: dict, overlaps: dict, metric: int, min_overlap, aos):
    """``(precision (41,), aos (41,))`` for one class, difficulty, metric and threshold, from
    the frames' ``cleaned`` ``(num_valid, ignored_gt, ignored_dt)``: the official
    ``eval_class`` with its per-frame loop native (:func:`geo3d.ops.kitti_statistics`)."""
    num_valid = sum(c[0] for c in cleaned)
    precision, orientation = np.zeros(NUM_SAMPLE_POINTS), np.zeros(NUM_SAMPLE_POINTS)
    if num_valid == 0:
        return precision, orientation
    packed = {
        **frames,
        **overlaps,
        "ignored_gt": torch.tensor([v for c in cleaned for v in c[1]], dtype=torch.int64),
        "ignored_dt": torch.tensor([v for c in cleaned for v in c[2]], dtype=torch.int64),
    }
    if metric != 0:  # DontCare regions count in the 2D metric only
        packed["dontcare"] = packed["dontcare"][:0]
        packed["dontcare_ptr"] = torch.zeros_like(packed["dontcare_ptr"])
    scores = kitti_statistics(packed, None, min_overlap).tolist()
    thresholds = score_thresholds(scores, num_valid)
    counts = kitti_statistics(
        packed, torch.tensor(thresholds, dtype=torch.float64), min_overlap, aos
    ).numpy()
    for t in range(len(thresholds)):
        precision[t] = counts[t, 0] / (counts[t, 0] + counts[t, 1])
        if aos:
            orientation[t] = counts[t, 3] / (counts[t, 0] + counts[t, 1])
    for t in range(len(thresholds)):
        precision[t] = precision[t:].max()
        orientation[t] = orientation[t:].max()
    return precision, orientation


def average_precision_r11(precision: np.ndarray) -> float:
    """The official ``get_mAP``: samples 0, 4, ..., 40 over 11, in percent."""
    return float(precision[::4].sum() / 11 * 100)


def average_precision_r40(precision: np.ndarray) -> float:
    """The official ``get_mAP_R40``: samples 1 to 40 over 40, in percent."""
    return float(precision[1:].sum() / 40 * 100)


def store_averages(results: dict, key: str, precision: np.ndarray) -> None:
    """``results[key + "_R11"]`` and ``results[key + "_R40"]`` of one precision curve."""
    results[f"{key}_R11"] = average_precision_r11(precision)
    results[f"{key}_R40"] = average_precision_r40(precision)


def _check(annos, what: str, detections: bool) -> None:
    keys = [
        "name",
        "truncated",
        "occluded",
        "alpha",
        "bbox",
        "dimensions",
        "location",
        "rotation_y",
    ]
    if detections:
        keys.append("score")
    for f, anno in enumerate(annos):
        missing = [k for k in keys if k not in anno]
        if missing:
            raise ValueError(f"{what}[{f}] lacks {missing} (KITTI annotation dicts, camera frame)")
        n = len(anno["name"])
        for key in keys[1:]:
            if len(anno[key]) != n:
                raise ValueError(f"{what}[{f}]['{key}'] has {len(anno[key])} rows for {n} names")


def kitti_eval(
    gt_annos: list[dict],
    dt_annos: list[dict],
    classes=("Car", "Pedestrian", "Cyclist"),
    loose: bool = False,
) -> dict[str, float]:
    """KITTI's AP for each class, metric (``bbox``, ``bev``, ``3d``, ``aos``) and difficulty,
    with both averages: ``{"Car_3d_moderate_R40": 77.3, "Car_3d_moderate_R11": ..., ...}``
    (module docstring). ``loose``: the looser overlap thresholds."""
    if len(gt_annos) != len(dt_annos):
        raise ValueError(
            f"{len(gt_annos)} ground-truth frames but {len(dt_annos)} detection frames"
        )
    _check(gt_annos, "gt_annos", False)
    _check(dt_annos, "dt_annos", True)
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown KITTI classes {unknown} (known: {CLASS_NAMES})")
    overlaps = {
        0: _packed_overlaps(
            [
                image_box_overlap(np.asarray(d["bbox"]), np.asarray(g["bbox"]))
                for g, d in zip(gt_annos, dt_annos)
            ]
        ),
        1: _packed_overlaps([_rotated_overlaps(g, d, False) for g, d in zip(gt_annos, dt_annos)]),
        2: _packed_overlaps([_rotated_overlaps(g, d, True) for g, d in zip(gt_annos, dt_annos)]),
    }
    dontcare = [_dontcare_boxes(g) for g in gt_annos]
    frames = _packed_frames(gt_annos, dt_annos, dontcare)
    thresholds = LOOSE_OVERLAPS if loose else STRICT_OVERLAPS
    has_alpha = all(
        len(d["alpha"]) == 0 or not np.any(np.asarray(d["alpha"]) == -10) for d in dt_annos
    )
    results = {}
    for name in classes:
        c = CLASS_NAMES.index(name)
        for difficulty, level in enumerate(DIFFICULTIES):
            cleaned = [_clean(g, d, name, difficulty) for g, d in zip(gt_annos, dt_annos)]
            for metric, metric_name in enumerate(METRICS):
                aos = metric == 0 and has_alpha
                precision, orientation = _precision(
                    cleaned,
                    frames,
                    overlaps[metric],
                    metric,
                    thresholds[metric, c],
                    aos,
                )
                store_averages(results, f"{name}_{metric_name}_{level}", precision)
                if aos:
                    store_averages(results, f"{name}_aos_{level}", orientation)
    return results
