"""Schedules and clipping: OpenPCDet's one-cycle shape, per-step stepping in the trainer,
exact resume mid-cycle, and the config checks that name the key."""

import json

import pytest
import torch

from geo3d.engine import load_config, run
from geo3d.engine.checkpoint import load_checkpoint
from geo3d.engine.optim import build_optimizer, build_scheduler
from tests.engine.test_train import TINY_PN, write_config

ONE_CYCLE = {
    **TINY_PN,
    "optimizer": {"name": "adamw", "lr": 0.004, "weight_decay": 0.01, "grad_clip": 1.0},
    "scheduler": {"name": "onecycle"},
    "train": {"epochs": 2},
}


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_one_cycle_follows_openpcdet(tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", ONE_CYCLE, train={"epochs": 5}))
    optimizer = build_optimizer(config, [torch.nn.Parameter(torch.zeros(1))])
    scheduler = build_scheduler(config, optimizer, steps_per_epoch=20)  # 100 steps
    lrs, betas = [], []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        betas.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        scheduler.step()
    peak = max(range(100), key=lrs.__getitem__)
    assert lrs[0] == pytest.approx(0.0004) and lrs[peak] == pytest.approx(0.004, rel=1e-3)
    assert 38 <= peak <= 40  # 40 % warm-up
    assert lrs[-1] < 1e-6 and all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1 :]))
    assert betas[0] == pytest.approx(0.95) and betas[peak] == pytest.approx(0.85, abs=1e-3)


def test_one_cycle_steps_per_batch_and_resumes_exactly(tmp_path):
    straight = load_config(
        write_config(tmp_path / "a.yaml", ONE_CYCLE), [f"output_dir={tmp_path / 'a'}"]
    )
    run(straight)
    records = [json.loads(line) for line in (tmp_path / "a" / "tiny_pn" / "metrics.jsonl").open()]
    assert records[0]["lr"] == pytest.approx(0.0004)  # the cycle's start
    assert records[1]["lr"] > records[0]["lr"]  # stepped within the first epoch
    interrupted = load_config(
        write_config(tmp_path / "b.yaml", ONE_CYCLE), [f"output_dir={tmp_path / 'b'}"]
    )
    run(interrupted, stop_after_epochs=1)
    run(interrupted, resume=True)
    a = load_checkpoint(str(tmp_path / "a" / "tiny_pn" / "last.pt"))
    b = load_checkpoint(str(tmp_path / "b" / "tiny_pn" / "last.pt"))
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] > 2


def test_config_checks_name_clip_and_scene_augmentations(tmp_path):
    path = write_config(tmp_path / "c.yaml", ONE_CYCLE)
    with pytest.raises(ValueError, match="optimizer.grad_clip"):
        load_config(path, ["optimizer.grad_clip=-1"])
    scene = {
        "name": "s",
        "data": {"dataset": "synthetic_lidar", "task": "detection", "augment": ["flip"]},
        "model": {"name": "pointpillars"},
    }
    assert load_config(write_config(tmp_path / "s.yaml", scene)).data.augment == ["flip"]
    with pytest.raises(ValueError, match=r"data.augment\[1\].*gt_sampling"):
        load_config(write_config(tmp_path / "s.yaml", scene), ["data.augment=[flip,jitter]"])
