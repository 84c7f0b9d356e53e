"""The ``detector`` suite of geo3d benchmark: a detection config's training throughput
(scenes per second through forward, loss, backward and the optimiser step, augmentation
included) and its inference latency per scene (forward and decoding with NMS, batch of one),
for each pillar pooling (detectors without a pooling option: one row, '-')."""

from __future__ import annotations

import time

import torch

from geo3d.benchmarks.bench_timing import median_ms

POOLINGS = ("max", "soft", "attention")


def bench_detector(config_path: str, repeats: int, quick: bool):
    """Rows of ``(pooling, training scenes/s, inference ms per scene, parameters)``."""
    from geo3d.engine import load_config
    from geo3d.engine.data import build_datasets
    from geo3d.engine.optim import build_optimizer
    from geo3d.engine.tasks import make_task
    from geo3d.models import create_model

    config = load_config(config_path, ["data.frames=4", "data.batch_size=2"] if quick else [])
    data = build_datasets(config.data)
    task = make_task(data)
    batch_size = config.data.batch_size
    train_batches = [
        data.collate_fn(
            [data.train[(b * batch_size + i) % len(data.train)] for i in range(batch_size)]
        )
        for b in range(1 if quick else 4)
    ]
    scenes = [data.collate_fn([data.val[i]]) for i in range(1 if quick else 5)]
    rows = []
    poolings = POOLINGS if "pooling" in config.model.options else ("-",)
    for pooling in poolings:
        torch.manual_seed(0)
        options = dict(config.model.options)
        if pooling != "-":
            options["pooling"] = pooling
        model = create_model(config.model.name, num_classes=len(data.classes), **options)
        optimizer = build_optimizer(config, model.parameters())
        model.train()

        def train_step(batch):
            inputs, targets = task.split(batch, torch.device("cpu"))
            loss = model.loss(model(*inputs), task.loss_targets(targets))["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        train_step(train_batches[0])  # warm-up
        start = time.perf_counter()
        for _ in range(max(repeats // 2, 1)):
            for batch in train_batches:
                train_step(batch)
        seconds = time.perf_counter() - start
        rate = max(repeats // 2, 1) * len(train_batches) * batch_size / seconds
        model.eval()

        def infer():
            with torch.no_grad():
                for scene in scenes:
                    inputs, _ = task.split(scene, torch.device("cpu"))
                    model.predict(model(*inputs))

        latency = median_ms(infer, repeats) / len(scenes)
        parameters = sum(p.numel() for p in model.parameters())
        rows.append((pooling, rate, latency, parameters))
    return rows
