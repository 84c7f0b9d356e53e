"""TensorBoard event files beside metrics.jsonl: the same numbers, pictures for detectors,
and nothing (with one line) where tensorboard is missing or switched off."""

import json
import logging

import numpy as np
import pytest
import torch

from geo3d.engine import load_config, run
from geo3d.engine.tensorboard import TensorBoardLog, scalar_tag
from tests.engine.test_train import TINY_PN, write_config

pytest.importorskip("tensorboard")


def read_events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_scalars_match_metrics_jsonl(tmp_path):
    path = write_config(tmp_path / "t.yaml", TINY_PN, train={"epochs": 2})
    results = run(load_config(path, [f"output_dir={tmp_path}"]))
    folder = tmp_path / "tiny_pn"
    history = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    events = read_events(folder / "tensorboard")
    tags = events.Tags()["scalars"]
    assert {"train/loss", "train/lr", "val/oa", "val/macc", "test/oa", "train/loss_step"} <= set(
        tags
    )
    losses = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert losses == [(h["epoch"], pytest.approx(h["train_loss"], rel=1e-6)) for h in history]
    val = [e.value for e in events.Scalars("val/oa")]
    assert val == pytest.approx([h["val_oa"] for h in history], rel=1e-6)
    assert events.Scalars("test/oa")[-1].value == pytest.approx(results["test_oa"], rel=1e-6)


def test_switched_off_writes_nothing(tmp_path):
    path = write_config(tmp_path / "t.yaml", TINY_PN, train={"epochs": 1, "tensorboard": False})
    run(load_config(path, [f"output_dir={tmp_path}"]))
    assert (tmp_path / "tiny_pn" / "metrics.jsonl").is_file()
    assert not (tmp_path / "tiny_pn" / "tensorboard").exists()


def test_missing_tensorboard_is_one_log_line(tmp_path, monkeypatch, caplog):
    import geo3d.engine.tensorboard as board_module

    monkeypatch.setattr(board_module, "available", lambda module: False)
    logger = logging.getLogger("test_tensorboard")
    with caplog.at_level(logging.INFO, logger="test_tensorboard"):
        board = TensorBoardLog(str(tmp_path), True, logger)
    assert not board.enabled and not (tmp_path / "tensorboard").exists()
    assert 'pip install "geo3d[tensorboard]"' in caplog.text
    board.scalars({"train_loss": 1.0}, 1)  # a no-op, not an error
    board.close()


def test_scalar_tags():
    assert scalar_tag("train_loss") == "train/loss"
    assert scalar_tag("lr") == "train/lr"
    assert scalar_tag("val_Car_bev_moderate") == "val/Car_bev_moderate"
    assert scalar_tag("test_map_bev") == "test/map_bev"


def test_bev_image_draws_boxes_and_detections():
    from geo3d.vis.bev import bev_image

    g = torch.Generator().manual_seed(0)
    points = torch.rand(2000, 4, generator=g) * torch.tensor([40.0, 40.0, 2.0, 1.0])
    points[:, 1] -= 20
    boxes = torch.tensor([[10.0, 0.0, 0.5, 4.0, 2.0, 1.5, 0.3]])
    bare = bev_image(points, extent=(0, 40, -20, 20), size=200)
    drawn = bev_image(points, boxes, boxes + 0.5, torch.tensor([0.9]), (0, 40, -20, 20), 200)
    assert bare.shape == drawn.shape == (200, 200, 3) and drawn.dtype == np.uint8
    green = (drawn[..., 1] > 200) & (drawn[..., 0] < 80) & (drawn[..., 2] < 80)
    red = (drawn[..., 0] > 200) & (drawn[..., 1] < 80) & (drawn[..., 2] < 80)
    assert green.sum() > 20 and red.sum() > 20
    assert not ((bare[..., 1] > 200) & (bare[..., 0] < 80) & (bare[..., 2] < 80)).any()
