"""The ``boxes`` suite of geo3d benchmark: rotated IoU against shapely's vectorised
polygon ops, rotated NMS against the greedy loop over a dense IoU matrix (what users write
without a kernel), points-in-boxes against the dense ``(N, M)`` torch test, and KITTI's
official evaluation of a val-sized set (3,769 frames) against the same algorithm with its
matching loop in Python (what the official port runs when numba is absent)."""

from __future__ import annotations

import math

import torch

from geo3d.benchmarks.bench_timing import median_ms


def random_boxes(n: int, seed: int, spread: float = 60.0) -> torch.Tensor:
    """KITTI-like boxes: cars, pedestrians and cyclists in a 60 m square, any heading."""
    g = torch.Generator().manual_seed(seed)
    boxes = torch.rand(n, 7, generator=g, dtype=torch.float64)
    boxes[:, :2] = boxes[:, :2] * spread - spread / 2
    boxes[:, 2] = boxes[:, 2] * 2 - 1
    boxes[:, 3:6] = boxes[:, 3:6] * torch.tensor([3.5, 1.2, 1.0], dtype=torch.float64) + 0.5
    boxes[:, 6] = boxes[:, 6] * 2 * math.pi - math.pi
    return boxes.float()


def shapely_iou(a: torch.Tensor, b: torch.Tensor):
    """Pairwise BEV IoU with shapely 2's vectorised functions (the peer)."""
    import numpy as np
    import shapely

    from geo3d.structures import box_corners

    def polygons(boxes):
        corners = box_corners(boxes.double())[:, :4, :2].numpy()
        return shapely.polygons(corners)

    pa, pb = polygons(a), polygons(b)
    inter = shapely.area(shapely.intersection(pa[:, None], pb[None, :]))
    union = shapely.area(pa)[:, None] + shapely.area(pb)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-300), 0.0)


def dense_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """Greedy NMS over a dense IoU matrix (geo3d's IoU kernel, a Python loop on top)."""
    from geo3d.ops import box_iou_bev

    order = scores.argsort(descending=True, stable=True)
    iou = box_iou_bev(boxes[order], boxes[order])
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    kept = []
    for r in range(len(order)):
        if suppressed[r]:
            continue
        kept.append(int(order[r]))
        suppressed |= iou[r] > threshold
    return kept


def bench_boxes(repeats: int, quick: bool):
    """Rows of (op, size, geo3d ms, peer name, peer ms)."""
    from geo3d.ops import box_iou_bev, nms_bev, points_in_boxes
    from geo3d.structures import points_in_boxes as dense_points_in_boxes

    rows = []
    for n in (100, 1000) if not quick else (100,):
        a, b = random_boxes(n, 0), random_boxes(n, 1)
        geo3d_ms = median_ms(lambda: box_iou_bev(a, b), repeats)
        try:
            peer = median_ms(lambda: shapely_iou(a, b), max(1, repeats // 2))
        except ImportError:
            peer = None
        rows.append(("box_iou_bev", f"{n} x {n}", geo3d_ms, "shapely 2 (vectorised)", peer))
    for n in (1024, 4096) if not quick else (1024,):
        boxes = random_boxes(n, 2, spread=40.0)
        scores = torch.rand(n, generator=torch.Generator().manual_seed(3))
        geo3d_ms = median_ms(lambda: nms_bev(boxes, scores, 0.1), repeats)
        peer = median_ms(lambda: dense_nms(boxes, scores, 0.1), max(1, repeats // 2))
        rows.append(("nms_bev", f"{n} boxes", geo3d_ms, "dense IoU + greedy loop", peer))
    from geo3d.benchmarks.benchmark import kitti_like_sweep

    points = kitti_like_sweep()
    boxes = random_boxes(50, 4, spread=70.0)
    boxes[:, 0] += 35
    geo3d_ms = median_ms(lambda: points_in_boxes(points, boxes), repeats)
    peer = median_ms(lambda: dense_points_in_boxes(points, boxes), repeats)
    size = f"{points.shape[0] // 1000}k pts, 50 boxes"
    rows.append(("points_in_boxes", size, geo3d_ms, "dense (N, M) torch test", peer))
    return rows


KITTI_NAMES = ("Car", "Car", "Car", "Pedestrian", "Cyclist", "Van", "DontCare")


def random_kitti_annos(frames: int, seed: int) -> tuple[list[dict], list[dict]]:
    """KITTI-like camera-frame annotations and noisy detections (about 6 objects and 8
    detections per frame)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    gts, dts = [], []
    for _ in range(frames):
        n = int(rng.integers(0, 13))
        names = [KITTI_NAMES[i] for i in rng.integers(0, len(KITTI_NAMES), n)]
        top = rng.uniform(100, 250, n)
        height = rng.uniform(10, 200, n)
        left = rng.uniform(0, 1100, n)
        gt = {
            "name": names,
            "truncated": rng.uniform(0, 0.6, n),
            "occluded": rng.integers(0, 4, n),
            "alpha": rng.uniform(-np.pi, np.pi, n),
            "bbox": np.stack([left, top, left + height * 1.5, top + height], 1).reshape(-1, 4),
            "dimensions": np.stack(
                [rng.uniform(3.5, 4.8, n), rng.uniform(1.4, 1.7, n), rng.uniform(1.5, 1.9, n)], 1
            ).reshape(-1, 3),
            "location": np.stack(
                [rng.uniform(-20, 20, n), rng.uniform(1.5, 1.8, n), rng.uniform(5, 70, n)], 1
            ).reshape(-1, 3),
            "rotation_y": rng.uniform(-np.pi, np.pi, n),
        }
        seen = [i for i in range(n) if names[i] != "DontCare" and rng.random() < 0.8]
        extra = int(rng.integers(0, 8))
        m = len(seen) + extra
        pick = np.array(seen + list(rng.integers(0, max(n, 1), extra)), dtype=np.int64)
        if n == 0:
            pick, m = np.zeros(0, dtype=np.int64), 0
        shift = np.where(np.arange(m)[:, None] < len(seen), 0.3, 3.0)
        dt = {
            "name": [names[i] if names[i] != "DontCare" else "Car" for i in pick],
            "truncated": np.zeros(m),
            "occluded": np.zeros(m),
            "alpha": gt["alpha"][pick] + rng.normal(0, 0.1, m),
            "bbox": gt["bbox"][pick] + rng.normal(0, 5, (m, 4)),
            "dimensions": gt["dimensions"][pick] * rng.uniform(0.95, 1.05, (m, 3)),
            "location": gt["location"][pick] + rng.normal(0, 1, (m, 3)) * shift,
            "rotation_y": gt["rotation_y"][pick] + rng.normal(0, 0.1, m),
            "score": rng.uniform(0, 1, m),
        }
        gts.append(gt)
        dts.append(dt)
    return gts, dts


def bench_kitti_eval(quick: bool):
    """``(rows, agree)``: KITTI evaluation of a val-sized set, native matching and Python
    matching (one run each), and whether their results agree."""
    import time

    import geo3d.metrics.kitti as kitti
    from geo3d.ops import kitti_statistics_python

    frames = 300 if quick else 3769
    gts, dts = random_kitti_annos(frames, 0)
    start = time.perf_counter()
    native = kitti.kitti_eval(gts, dts)
    native_ms = (time.perf_counter() - start) * 1000
    original = kitti.kitti_statistics
    kitti.kitti_statistics = kitti_statistics_python
    try:
        start = time.perf_counter()
        slow = kitti.kitti_eval(gts, dts)
        python_ms = (time.perf_counter() - start) * 1000
    finally:
        kitti.kitti_statistics = original
    agree = all(abs(native[k] - slow[k]) < 1e-9 for k in native)
    row = ("kitti_eval", f"{frames} frames", native_ms, "matching loop in Python", python_ms)
    return [row], agree
