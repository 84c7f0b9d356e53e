"""Evaluation over one or several processes: each process takes every ``world_size``-th
sample, per-batch metric sums are added over processes, so each sample counts once."""

from __future__ import annotations

import os

import torch

from geo3d.engine.tasks import add_sums


def shard(dataset, rank: int, world_size: int):
    """Every ``world_size``-th sample from ``rank``: no padding, so gathered metrics count
    each sample exactly once (DistributedSampler would repeat some)."""
    return torch.utils.data.Subset(dataset, list(range(rank, len(dataset), world_size)))


@torch.no_grad()
def predict(model, dataset, config, device, rank, world_size, features_only=False):
    """Predictions (or features) and labels of the whole data set, gathered over processes."""
    model.eval()
    loader = torch.utils.data.DataLoader(
        shard(dataset, rank, world_size),
        batch_size=config.data.eval_batch_size,
        num_workers=config.data.workers,
    )
    outputs, labels = [], []
    for points, target in loader:
        points = points.to(device)
        out = model.features(points) if features_only else model.predict(model(points))
        outputs.append(out.cpu())
        labels.append(target)
    indices = torch.arange(rank, len(dataset), world_size)
    local_out = torch.cat(outputs) if outputs else torch.zeros(0)
    local_labels = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.long)
    if world_size == 1:
        return local_out, local_labels
    gathered_out, gathered_labels = [None] * world_size, [None] * world_size
    gathered_idx = [None] * world_size
    torch.distributed.all_gather_object(gathered_out, local_out)
    torch.distributed.all_gather_object(gathered_labels, local_labels)
    torch.distributed.all_gather_object(gathered_idx, indices)
    order = torch.cat(gathered_idx).argsort()
    return torch.cat(gathered_out)[order], torch.cat(gathered_labels)[order]


def _loader(dataset, config, task, batch_size, **options):
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=config.data.workers,
        collate_fn=task.collate_fn,
        **options,
    )


@torch.no_grad()
def evaluate(model, dataset, config, device, rank, world_size, task) -> dict:
    """The task's metrics over the whole data set: per-batch sums, added over processes."""
    model.eval()
    total = None
    for batch in _loader(
        shard(dataset, rank, world_size), config, task, config.data.eval_batch_size
    ):
        inputs, targets = task.split(batch, device)
        total = add_sums(total, task.batch_sums(model, model(*inputs), targets))
    if world_size > 1:
        gathered = [None] * world_size
        torch.distributed.all_gather_object(gathered, total)
        total = None
        for part in gathered:
            if part is not None:
                total = add_sums(total, part)
    if total is None:
        raise ValueError("the evaluation split is empty")
    return task.metrics(total)


@torch.no_grad()
def write_kitti_predictions(model, dataset, config, device, task, folder: str) -> int:
    """Each frame's detections as a KITTI label file ``folder/<frame>.txt`` (camera frame,
    16 fields with the score: what the official devkit's ``evaluate_object`` and the
    benchmark's server read). ``dataset`` serves KITTI frames (labelled or not); returns
    the number of files written."""
    from tqdm import tqdm

    from geo3d.data.io.kitti import write_kitti_labels

    model.eval()
    os.makedirs(folder, exist_ok=True)
    written = 0
    loader = _loader(dataset, config, task, config.data.eval_batch_size)
    for batch in tqdm(loader, desc=f"KITTI labels to {folder}", unit="batch", leave=False):
        if "kitti" not in batch:
            raise ValueError("KITTI label files need KITTI frames (the 'kitti' data set)")
        inputs, _ = task.split(batch, device)
        for found, record in zip(model.predict(model(*inputs)), batch["kitti"]):
            anno = task.kitti_detections(found, record)
            write_kitti_labels(os.path.join(folder, f"{record.frame_id}.txt"), anno)
            written += 1
    return written
