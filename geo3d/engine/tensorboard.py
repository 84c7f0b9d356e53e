"""TensorBoard event files beside ``metrics.jsonl`` and ``curves.png``, where the
``tensorboard`` package is installed (``pip install "geo3d[tensorboard]"``; without it the
run says so once and carries on).

``<run folder>/tensorboard/`` gets: ``train/loss`` per step and per epoch, ``train/lr``,
every validation metric as ``val/<metric>``, the test metrics at the end, and for
detectors a few bird's-eye pictures of validation scenes (ground truth red, detections
green) at each evaluation. View with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import torch

from geo3d.optional import available

PICTURE_SCENES = 2  # validation scenes drawn per evaluation (detectors)
STEP_EVERY = 10  # per-step loss every this many steps


def scalar_tag(key: str) -> str:
    """``train_loss`` -> ``train/loss``, ``val_Car_bev_moderate`` -> ``val/Car_bev_moderate``."""
    for prefix in ("train_", "val_", "test_", "best_val_"):
        if key.startswith(prefix):
            return prefix.rstrip("_") + "/" + key[len(prefix) :]
    return "train/" + key if key == "lr" else key


class TensorBoardLog:
    """Writes nothing (and costs nothing) when disabled, on non-main processes, or where
    tensorboard is not installed."""

    def __init__(self, folder: str | None, enabled: bool, logger: logging.Logger | None = None):
        self.writer = None
        if folder is None or not enabled:
            return
        if not available("tensorboard"):
            if logger is not None:
                logger.info('TensorBoard: not installed (pip install "geo3d[tensorboard]")')
            return
        from torch.utils.tensorboard import SummaryWriter

        self.folder = os.path.join(folder, "tensorboard")
        self.writer = SummaryWriter(self.folder)

    @property
    def enabled(self) -> bool:
        return self.writer is not None

    def step(self, global_step: int, loss: float) -> None:
        if self.writer is not None and global_step % STEP_EVERY == 0:
            self.writer.add_scalar("train/loss_step", loss, global_step)

    def scalars(self, record: dict, step: int) -> None:
        """An epoch's record (or the final results): every number as a scalar."""
        if self.writer is None:
            return
        for key, value in record.items():
            if key == "epoch" or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if np.isfinite(value):
                self.writer.add_scalar(scalar_tag(key), float(value), step)
        self.writer.flush()

    @torch.no_grad()
    def detection_pictures(self, model, dataset, task, device, step: int) -> None:
        """Bird's-eye pictures of the first validation scenes with the model's detections."""
        if self.writer is None or not hasattr(task, "classes") or len(dataset) == 0:
            return
        from geo3d.vis.bev import bev_image

        count = min(PICTURE_SCENES, len(dataset))
        batch = task.collate_fn([dataset[i] for i in range(count)])
        inputs, targets = task.split(batch, device)
        was_training = model.training
        model.eval()
        found = model.predict(model(*inputs))
        model.train(was_training)
        points, scene_of_point = batch["points"], batch["batch"]
        boxes, num_boxes = targets[0].cpu(), targets[2].cpu()
        for b, detections in enumerate(found):
            image = bev_image(
                points[scene_of_point == b],
                boxes[b, : int(num_boxes[b])],
                detections["boxes"].cpu(),
                detections["scores"].cpu(),
            )
            self.writer.add_image(f"val/scene_{b}", image, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
