"""A bird's-eye view of a LiDAR scene as an RGB array (matplotlib, no display, no Open3D):
points by height, ground-truth boxes in red and detections in green with their scores
(the colours of ``geo3d visualize model``).
Cheap enough to draw at every evaluation for TensorBoard."""

from __future__ import annotations

import numpy as np
import torch

from geo3d.structures.boxes import box_corners


def _footprints(boxes) -> np.ndarray:
    """``(M, 7)`` boxes -> ``(M, 4, 2)`` BEV corners (the bottom face's x, y)."""
    boxes = torch.as_tensor(boxes, dtype=torch.float64).reshape(-1, 7)
    if boxes.shape[0] == 0:
        return np.zeros((0, 4, 2))
    return box_corners(boxes)[:, :4, :2].numpy()


def bev_image(
    points,
    gt_boxes=None,
    pred_boxes=None,
    pred_scores=None,
    extent: tuple[float, float, float, float] | None = None,
    size: int = 480,
    max_points: int = 30000,
) -> np.ndarray:
    """The scene from above: ``(size, size, 3)`` uint8.

    Args:
        points: (N, >=3) LiDAR points (x forward, y left, z up).
        gt_boxes, pred_boxes: (M, 7) boxes (x, y, z, dx, dy, dz, heading) or None.
        pred_scores: (M,) detection scores, written beside each green box.
        extent: (x_min, x_max, y_min, y_max) shown; default: the points' extent.
        max_points: points drawn at most (an even subsample beyond it).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xyz = torch.as_tensor(points)[:, :3].detach().cpu().double().numpy()
    if xyz.shape[0] > max_points:
        xyz = xyz[:: int(np.ceil(xyz.shape[0] / max_points))]
    figure = plt.figure(figsize=(size / 100, size / 100), dpi=100)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_facecolor("black")
    if xyz.shape[0]:
        axes.scatter(xyz[:, 0], xyz[:, 1], c=xyz[:, 2], s=0.3, cmap="viridis", linewidths=0)
    for corners in _footprints(gt_boxes if gt_boxes is not None else np.zeros((0, 7))):
        axes.fill(corners[:, 0], corners[:, 1], fill=False, edgecolor="red", linewidth=1.2)
    scores = None if pred_scores is None else torch.as_tensor(pred_scores).cpu().numpy()
    predicted = _footprints(pred_boxes if pred_boxes is not None else np.zeros((0, 7)))
    for i, corners in enumerate(predicted):
        axes.fill(corners[:, 0], corners[:, 1], fill=False, edgecolor="lime", linewidth=1.0)
        if scores is not None:
            axes.text(corners[0, 0], corners[0, 1], f"{scores[i]:.2f}", color="lime", fontsize=6)
    if extent is None and xyz.shape[0]:
        extent = (xyz[:, 0].min(), xyz[:, 0].max(), xyz[:, 1].min(), xyz[:, 1].max())
    if extent is not None:
        axes.set_xlim(extent[0], extent[1])
        axes.set_ylim(extent[2], extent[3])
    axes.set_aspect("equal", adjustable="datalim")
    axes.axis("off")
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return image
