"""Checkpoints cannot run code: a file whose pickle would create a marker file is refused
through every public path (the engine, tools/test.py, tools/train.py --resume, the
visualizer's model mode, tools/export.py, tools/infer.py) and the marker never appears;
plain-data checkpoints, old geo3d checkpoints and other projects' state dicts load; resume
after SIGKILL is exact."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml

from geo3d.engine.checkpoint import (
    UnsafeCheckpointError,
    fit_weights,
    load_checkpoint,
    load_model_weights,
    random_states,
    restore_random_states,
    save_atomic,
)
from tests.engine.test_train import TINY_PN as BASE_TINY_PN

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_PN = {  # test_train's tiny Point-PN, 2 epochs, no augmentation
    **BASE_TINY_PN,
    "data": {k: v for k, v in BASE_TINY_PN["data"].items() if k != "augment"},
    "train": {"epochs": 2},
}


class Payload:
    """Unpickling this runs ``exec``, which creates ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def evil_checkpoint(path, marker, model=None):
    state = {"model": model.state_dict() if model is not None else {}, "epoch": 1}
    state["payload"] = Payload(marker)
    torch.save(state, path)
    return str(path)


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def tiny_model():
    from geo3d.models import create_model

    return create_model("point_pn", num_classes=4, num_groups=16, k=4)


def test_the_payload_is_real_when_unpickled_unsafely(tmp_path, capsys):
    """The check can fail: full unpickling of the same file does run the code."""
    marker = tmp_path / "marker"
    path = evil_checkpoint(tmp_path / "evil.pt", marker)
    load_checkpoint(path, unsafe=True)
    assert marker.exists()
    assert "--unsafe-load-checkpoint" in capsys.readouterr().err  # said loudly


def test_the_engine_refuses_code_and_names_the_file(tmp_path):
    marker = tmp_path / "marker"
    model = tiny_model()
    path = evil_checkpoint(tmp_path / "evil.pt", marker, model)
    for load in (lambda: load_checkpoint(path), lambda: load_model_weights(model, path)):
        with pytest.raises(UnsafeCheckpointError) as error:
            load()
        message = str(error.value)
        assert path in message and "refusing to load it" in message and "builtins.exec" in message
        assert "\n" not in message
    assert not marker.exists()


def tool(name, *args):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def assert_refused(result, path, marker):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines and lines[-1].startswith("error: ") and str(path) in lines[-1], result.stderr
    assert "refusing to load it" in lines[-1] and "Traceback" not in result.stderr
    assert not marker.exists()


def test_every_tool_refuses_it(tmp_path):
    marker = tmp_path / "marker"
    evil = evil_checkpoint(tmp_path / "evil.pt", marker)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_PN))
    detector = os.path.join(ROOT, "configs", "pointpillars_synthetic.yaml")
    scan = tmp_path / "scan.bin"
    np.random.default_rng(0).random((500, 4), dtype=np.float32).tofile(scan)
    out = tmp_path / "out"
    # train --resume finds the planted last.pt in <output>/<name>/
    (out / "tiny_pn").mkdir(parents=True)
    evil_checkpoint(out / "tiny_pn" / "last.pt", marker)
    calls = {
        "test.py": [config, evil],
        "train.py": [config, "--output", out, "--resume"],
        "visualize.py": ["model", "--config", config, "--checkpoint", evil, "--out", "v.png"],
        "export.py": [detector, evil, "--out", tmp_path / "deploy"],
        "infer.py": [detector, scan, "--checkpoint", evil, "--out", tmp_path / "boxes"],
    }
    for name, args in calls.items():
        planted = out / "tiny_pn" / "last.pt" if name == "train.py" else evil
        assert_refused(tool(name, *args), planted, marker)


def test_plain_and_old_checkpoints_load(tmp_path):
    model = tiny_model()
    # geo3d's own format
    save_atomic({"model": model.state_dict(), "random": [random_states()]}, str(tmp_path / "a"))
    state = load_model_weights(tiny_model(), str(tmp_path / "a"))
    assert set(state) == {"model", "random"}
    # written by geo3d before the plain format: NumPy's random state as an ndarray
    old = {
        "model": model.state_dict(),
        "random": [
            {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": [],
            }
        ],
    }
    torch.save(old, tmp_path / "old.pt")
    state = load_checkpoint(str(tmp_path / "old.pt"))
    restore_random_states(state["random"][0])  # the old form restores too
    # other projects' files: a bare state dict, OpenPCDet's "model_state", DataParallel keys
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    torch.save({"model_state": model.state_dict(), "epoch": 80}, tmp_path / "pcdet.pt")
    prefixed = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": prefixed}, tmp_path / "dp.pt")
    for name, prefix in (("bare.pt", ""), ("pcdet.pt", ""), ("dp.pt", "module.")):
        fresh = tiny_model()
        load_model_weights(fresh, str(tmp_path / name), prefix=prefix)
        assert all(
            torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), old["model"].values())
        )


def test_random_states_are_plain_data_and_restore_exactly(tmp_path):
    random.seed(3), np.random.seed(4), torch.manual_seed(5)
    np.random.standard_normal()  # a cached Gaussian in NumPy's state
    states = random_states()
    torch.save(states, tmp_path / "r.pt")
    expected = (random.random(), np.random.standard_normal(), torch.rand(3))
    restore_random_states(torch.load(tmp_path / "r.pt", weights_only=True))
    got = (random.random(), np.random.standard_normal(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda m: {"weights": [1, 2]}, "holds no model weights"),
        (lambda m: {"model": {"nonsense.weight": torch.zeros(2)}}, "1 unexpected: nonsense"),
        (
            lambda m: {
                "model": {k: v[..., :1] if v.dim() else v for k, v in m.state_dict().items()}
            },
            "of another shape",
        ),
        (lambda m: [torch.zeros(2)], "not a checkpoint (it holds a list)"),
    ],
)
def test_weights_that_do_not_fit_are_named(tmp_path, make, fragment):
    model = tiny_model()
    torch.save(make(model), tmp_path / "w.pt")
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_model_weights(model, str(tmp_path / "w.pt"))


def test_truncated_and_missing_files_are_named(tmp_path):
    model = tiny_model()
    torch.save({"model": model.state_dict()}, tmp_path / "w.pt")
    data = (tmp_path / "w.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.pt: not a readable checkpoint"):
        load_checkpoint(str(tmp_path / "cut.pt"))
    with pytest.raises(FileNotFoundError, match="nope.pt: no such checkpoint"):
        load_checkpoint(str(tmp_path / "nope.pt"))
    with pytest.raises(ValueError, match="cannot resume from it: it lacks optimizer"):
        from geo3d.engine.checkpoint import check_resume_state

        check_resume_state({"model": {}}, "w.pt")
    fit_weights(model, {"model": model.state_dict()})  # a loaded state fits as it is


def test_a_planted_cache_file_is_regenerated_not_run(tmp_path):
    from geo3d.data.synthetic.cache import cached

    marker = tmp_path / "marker"
    first = cached("demo", {"n": 1}, lambda: {"x": torch.arange(3)}, tmp_path)
    (path,) = [p for p in tmp_path.iterdir() if p.name.startswith("demo-")]
    torch.save({"x": Payload(marker)}, path)
    with pytest.warns(UserWarning, match="unreadable cache"):
        again = cached("demo", {"n": 1}, lambda: {"x": torch.arange(3)}, tmp_path)
    assert torch.equal(again["x"], first["x"]) and not marker.exists()


def test_resume_after_sigkill_is_exact(tmp_path):
    """A run killed with SIGKILL in the middle of epoch 2, resumed with --resume, ends
    with the same weights, bit for bit, as a run that was never interrupted."""
    settings = json.loads(json.dumps(TINY_PN))
    settings["data"]["per_class"] = 12  # enough batches that the kill lands mid-epoch
    settings["data"]["augment"] = ["scale", "translate"]
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(settings))
    straight = tool("train.py", config, "--output", tmp_path / "a")
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "b"
    last = out / "tiny_pn" / "last.pt"
    command = [sys.executable, os.path.join(ROOT, "tools", "train.py"), str(config)]
    process = subprocess.Popen(
        command + ["--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while not last.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert load_checkpoint(str(last))["epoch"] == 1
    resumed = tool("train.py", config, "--output", out, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a = load_checkpoint(str(tmp_path / "a" / "tiny_pn" / "last.pt"))["model"]
    b = load_checkpoint(str(last))["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
