import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from geo3d.engine import load_config, run
from geo3d.engine.checkpoint import load_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TINY_PN = {
    "name": "tiny_pn",
    "data": {
        "dataset": "synthetic_shapes",
        "num_points": 128,
        "per_class": 2,
        "batch_size": 8,
        "eval_batch_size": 12,
        "augment": ["scale", "translate"],
    },
    "model": {"name": "point_pn", "options": {"num_groups": 32, "k": 8}},
    "optimizer": {"name": "sgd", "lr": 0.05},
    "train": {"epochs": 3},
}
TINY_NN = {
    "name": "tiny_nn",
    "data": {
        "dataset": "synthetic_shapes",
        "num_points": 128,
        "per_class": 2,
        "eval_batch_size": 12,
    },
    "model": {
        "name": "point_nn",
        "options": {"num_stages": 2, "embed_dim": 12, "k": 8, "num_groups": 32},
    },
    "train": {"gamma_candidates": [1.0, 10.0, 100.0]},
}


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def write_config(path, data, **changes):
    data = json.loads(json.dumps(data))
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


def test_config_errors_name_the_key(tmp_path):
    path = write_config(tmp_path / "c.yaml", TINY_PN)
    assert load_config(path, ["train.epochs=7"]).train.epochs == 7
    with pytest.raises(ValueError, match="unknown config key 'train.epoch'"):
        load_config(path, ["train.epoch=7"])
    with pytest.raises(ValueError, match="'train.epochs' must be int"):
        load_config(path, ["train.epochs=seven"])
    with pytest.raises(ValueError, match="missing config key 'data'"):
        load_config(write_config(tmp_path / "d.yaml", {"name": "x", "model": {"name": "point_pn"}}))
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_every_shipped_config_validates():
    folder = os.path.join(ROOT, "configs")
    names = sorted(f for f in os.listdir(folder) if f.endswith(".yaml"))
    assert {
        "pointnn_modelnet40.yaml",
        "pointpn_modelnet40.yaml",
        "pointnn_scanobjectnn.yaml",
        "pointpn_scanobjectnn.yaml",
        "pointnn_synthetic.yaml",
        "pointpn_synthetic.yaml",
    } <= set(names)
    for name in names:
        load_config(os.path.join(folder, name))


def test_train_writes_every_output_and_resume_is_exact(tmp_path):
    straight = load_config(
        write_config(tmp_path / "a.yaml", TINY_PN), [f"output_dir={tmp_path / 'a'}"]
    )
    results = run(straight)
    folder = tmp_path / "a" / "tiny_pn"
    for name in (
        "last.pt",
        "best.pt",
        "metrics.jsonl",
        "train.log",
        "curves.png",
        "results.json",
        "config.json",
    ):
        assert (folder / name).exists(), name
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert 0 <= results["test_oa"] <= 1 and results["parameters"] > 700_000
    # Interrupted after 2 epochs, then resumed: the same weights as the straight run.
    interrupted = load_config(
        write_config(tmp_path / "b.yaml", TINY_PN), [f"output_dir={tmp_path / 'b'}"]
    )
    partial = run(interrupted, stop_after_epochs=2)
    assert (
        partial["finished"] is False and not (tmp_path / "b" / "tiny_pn" / "results.json").exists()
    )
    assert load_checkpoint(str(tmp_path / "b" / "tiny_pn" / "last.pt"))["epoch"] == 2
    run(interrupted, resume=True)
    a = load_checkpoint(str(folder / "last.pt"))["model"]
    b = load_checkpoint(str(tmp_path / "b" / "tiny_pn" / "last.pt"))["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_free_point_nn_builds_its_memory(tmp_path):
    config = load_config(write_config(tmp_path / "n.yaml", TINY_NN), [f"output_dir={tmp_path}"])
    results = run(config)
    assert results["gamma"] in (1.0, 10.0, 100.0) and results["gamma_chosen_on"] == "val"
    assert 1 / 12 <= results["test_oa"] <= 1


def test_missing_data_root_is_a_clear_error(tmp_path):
    config = load_config(
        os.path.join(ROOT, "configs", "pointnn_modelnet40.yaml"), [f"output_dir={tmp_path}"]
    )
    with pytest.raises(FileNotFoundError, match="modelnet40_ply_hdf5_2048"):
        run(config)
    assert not (tmp_path / "pointnn_modelnet40").exists()  # nothing half-written


def test_two_processes_with_torchrun(tmp_path):
    path = write_config(tmp_path / "d.yaml", TINY_PN, train={"epochs": 1})
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29581",
        os.path.join(ROOT, "tools", "train.py"),
        str(path),
        "--output",
        str(tmp_path / "ddp"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads((tmp_path / "ddp" / "tiny_pn" / "results.json").read_text())
    assert 0 <= saved["test_oa"] <= 1
    log = (tmp_path / "ddp" / "tiny_pn" / "train.log").read_text()
    assert "2 process(es)" in log


def test_test_tool_reproduces_the_training_results(tmp_path):
    import importlib

    path = write_config(tmp_path / "t.yaml", TINY_PN, train={"epochs": 1})
    results = run(load_config(path, [f"output_dir={tmp_path}"]))
    tool = importlib.import_module("geo3d.cli.test")
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert tool.main([str(path), str(tmp_path / "tiny_pn" / "best.pt")]) == 0
    assert json.loads(out.getvalue())["test_oa"] == pytest.approx(results["test_oa"])
    from geo3d.engine.cli import run_tool

    assert run_tool(lambda: tool.main([str(path), str(tmp_path / "missing.pt")])) == 2


def test_modelnet40_configs_follow_the_official_protocol(tmp_path):
    """h5 files, the first 1024 of 2048 points, the whole training set in the memory bank
    (or in training), gamma and best.pt chosen on the test set."""
    import h5py
    import numpy as np

    from geo3d.engine.data import build_datasets

    rng = np.random.default_rng(0)
    root = tmp_path / "modelnet40_ply_hdf5_2048"
    root.mkdir()
    shapes = {}
    for split, count in (("train", 10), ("test", 6)):
        shapes[split] = rng.normal(size=(count, 2048, 3)).astype(np.float32)
        with h5py.File(root / f"ply_data_{split}0.h5", "w") as handle:
            handle["data"] = shapes[split]
            handle["label"] = (np.arange(count) % 2).astype(np.uint8)[:, None]
    (root / "shape_names.txt").write_text("a\nb\n")
    for name in ("pointnn_modelnet40.yaml", "pointpn_modelnet40.yaml"):
        config = load_config(os.path.join(ROOT, "configs", name), [f"data.root={root}"])
        assert config.data.dataset == "modelnet40_h5" and config.data.val_fraction == 0
        data = build_datasets(config.data)
        assert len(data.train) == 10 and data.val is data.test and len(data.test) == 6
        assert torch.equal(data.test[3][0], torch.from_numpy(shapes["test"][3, :1024]))
    config = load_config(
        os.path.join(ROOT, "configs", "pointnn_modelnet40.yaml"),
        [
            f"data.root={root}",
            f"output_dir={tmp_path}",
            "data.num_points=128",
            "model.options={num_stages: 2, embed_dim: 12, k: 8, num_groups: 32}",
            "train.gamma_candidates=[1.0, 10.0]",
        ],
    )
    results = run(config)
    assert results["gamma_chosen_on"] == "test" and results["validation"].startswith("test set")
    log = (tmp_path / "pointnn_modelnet40" / "train.log").read_text()
    assert "the test set takes the validation role" in log and "10 train / 6 val / 6 test" in log
    # an honest protocol is one override away
    honest = load_config(
        os.path.join(ROOT, "configs", "pointnn_modelnet40.yaml"),
        [f"data.root={root}", "data.val_fraction=0.2", "train.select_gamma_on=val"],
    )
    data = build_datasets(honest.data)
    assert len(data.train) == 8 and len(data.val) == 2 and data.val is not data.test
