"""Pictures of a detector at work: a scene's points with its ground-truth boxes (red) and
the predicted boxes (green, the brighter the higher the score), each prediction labelled
with its class and score."""

from __future__ import annotations

import torch

from geo3d.vis.scene import Label, box_lines, point_geometry

TRUTH = (0.9, 0.1, 0.1)


@torch.no_grad()
def detection_views(
    model, batch: dict, classes: list[str], scene: int = 0, min_score: float = 0.0
) -> tuple[list, str]:
    """``(geometries, title)`` for scene ``scene`` of a :func:`geo3d.data.collate.collate_scenes`
    batch: points, true boxes, the model's predictions with their class and score as
    :class:`~geo3d.vis.scene.Label` texts, and counts per class in the title; predictions
    scoring below ``min_score`` are left out of the picture and the counts."""
    inputs = (batch["points"], batch["batch"], torch.tensor(batch["num_boxes"].shape[0]))
    found = model.predict(model(*inputs))[scene]
    shown = found["scores"] >= min_score
    found = {key: value[shown] for key, value in found.items()}
    points = batch["points"][batch["batch"] == scene]
    n = int(batch["num_boxes"][scene])
    geometries = [point_geometry(points[:, :3]), box_lines(batch["boxes"][scene, :n], TRUTH)]
    for box, score, label in zip(found["boxes"], found["scores"], found["labels"]):
        shade = 0.4 + 0.6 * float(score)
        geometries.append(box_lines(box[None].double(), (0.1, shade, 0.2)))
        top = (float(box[0]), float(box[1]), float(box[2] + box[5] / 2))
        text = f"{classes[int(label)]} {float(score):.2f}"
        geometries.append(Label(top, text, (0.0, 0.45, 0.1)))
    truth = [classes[int(k)] for k in batch["box_labels"][scene, :n]]
    predicted = [classes[int(k)] for k in found["labels"]]
    summary = ", ".join(f"{c} {truth.count(c)}/{predicted.count(c)}" for c in classes)
    return geometries, f"true/predicted boxes (red/green): {summary}"
