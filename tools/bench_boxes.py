"""The ``boxes`` suite of tools/benchmark.py: rotated IoU against shapely's vectorised
polygon ops, rotated NMS against the greedy loop over a dense IoU matrix (what users write
without a kernel), and points-in-boxes against the dense ``(N, M)`` torch test."""

from __future__ import annotations

import math

import torch
from bench_timing import median_ms


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
    from benchmark import kitti_like_sweep

    points = kitti_like_sweep()
    boxes = random_boxes(50, 4, spread=70.0)
    boxes[:, 0] += 35
    geo3d_ms = median_ms(lambda: points_in_boxes(points, boxes), repeats)
    peer = median_ms(lambda: dense_points_in_boxes(points, boxes), repeats)
    size = f"{points.shape[0] // 1000}k pts, 50 boxes"
    rows.append(("points_in_boxes", size, geo3d_ms, "dense (N, M) torch test", peer))
    return rows
