"""The ``models`` suite of geo3d benchmark: Point-NN and Point-PN throughput at the
official settings (the fused and plain Point-NN encoders in the same run)."""

from __future__ import annotations

import torch

from geo3d.benchmarks.bench_timing import median_ms


def bench_models(repeats: int, quick: bool) -> list[tuple[str, str, float, float]]:
    """Point-NN and Point-PN throughput on one batch of 32 x 1024 points (official settings):
    rows of (model, what, ms per batch, shapes per second)."""
    from geo3d.models import create_model

    batch = 8 if quick else 32
    points = torch.rand(batch, 1024, 3, generator=torch.Generator().manual_seed(3)) * 2 - 1
    labels = torch.randint(0, 40, (batch,))
    rows = []
    point_nn = create_model("point_nn", num_classes=40).eval()
    with torch.no_grad():
        ms = median_ms(lambda: point_nn.features(points), repeats)
        rows.append(("Point-NN", "encode (training-free)", ms, batch / ms * 1000))
        grouping = point_nn.encoder.grouping()
        ms = median_ms(lambda: grouping(points), repeats)
        rows.append(("Point-NN", "of which grouping (FPS + kNN)", ms, batch / ms * 1000))
        point_nn.encoder.fused = False
        ms = median_ms(lambda: point_nn.features(points), repeats)
        rows.append(("Point-NN", "encode, plain (fused=False)", ms, batch / ms * 1000))
    point_pn = create_model("point_pn", num_classes=40)
    point_pn.eval()
    with torch.no_grad():
        ms = median_ms(lambda: point_pn(points), repeats)
    rows.append(("Point-PN", "inference", ms, batch / ms * 1000))
    point_pn.train()
    optimizer = torch.optim.SGD(point_pn.parameters(), lr=0.01)

    def step():
        loss = point_pn.loss(point_pn(points), labels)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    ms = median_ms(step, repeats)
    rows.append(("Point-PN", "training step", ms, batch / ms * 1000))
    return rows
