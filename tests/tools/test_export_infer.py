"""tools/export.py and tools/infer.py as a user runs them: a checkpoint to an export
directory, then boxes for a folder of point clouds from each runtime present, the same
boxes from each; KITTI label files on the shared KITTI frames; one-line errors."""

import importlib.util
import json
import os

import numpy as np
import pytest
import torch
import yaml

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from geo3d.data.synthetic import SyntheticLidar  # noqa: E402
from geo3d.engine import load_config  # noqa: E402
from geo3d.models import create_model  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPTIONS = {
    "voxel_size": [0.32, 0.32, 4.0],
    "point_range": [-51.2, -35.84, -3.0, 51.2, 35.84, 1.0],
    "pillar_channels": [16],
    "layer_nums": [1, 1, 1],
    "num_filters": [16, 16, 16],
    "upsample_filters": [16, 16, 16],
    "head_channels": 16,
    "heading": "axis_direction",
    "score_threshold": 0.3,
    "max_objects": 40,
    "max_points_per_pillar": 16,
    "max_pillars": [8000, 8000],
}


def tool(name):
    return importlib.import_module(f"geo3d.cli.{name}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(config path, checkpoint, export directory, folder of two .bin scans)."""
    folder = tmp_path_factory.mktemp("deploy")
    config = {
        "name": "tiny_pointpillars",
        "data": {"dataset": "synthetic_lidar", "task": "detection", "frames": 2},
        "model": {"name": "pointpillars", "options": OPTIONS},
    }
    config_path = folder / "tiny.yaml"
    config_path.write_text(yaml.safe_dump(config))
    torch.manual_seed(0)
    model = create_model("pointpillars", num_classes=3, **OPTIONS)
    with torch.no_grad():
        model.head.heatmap[-1].bias.zero_()  # scores spread out, so there are boxes
    checkpoint = folder / "model.pt"
    torch.save({"model": model.state_dict()}, checkpoint)
    out = folder / "export"
    assert (
        tool("export").main(
            [str(config_path), str(checkpoint), "--out", str(out), "--examples", "1"]
        )
        == 0
    )
    scans = folder / "scans"
    scans.mkdir()
    for i, item in enumerate(SyntheticLidar("val", frames=2)):
        item["points"][::4].numpy().astype(np.float32).tofile(scans / f"{i:06d}.bin")
    return config_path, checkpoint, out, scans


def read_boxes(folder, frame):
    with open(os.path.join(folder, f"{frame}.json")) as handle:
        return json.load(handle)["boxes"]


def test_export_writes_onnx_and_manifest_and_says_tensorrt_is_absent(exported, capsys):
    _, _, out, _ = exported
    assert sorted(os.listdir(out)) == ["manifest.json", "model.onnx"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == list(SyntheticLidar.classes)
    assert manifest["config"]["model"]["name"] == "pointpillars"
    assert manifest["profile"]["voxels"][2] == 8000  # the config's evaluation cap


def test_every_runtime_gives_the_same_boxes(exported, tmp_path, capsys):
    config, checkpoint, out, scans = exported
    infer = tool("infer")
    runs = {
        "onnxruntime": [str(out), str(scans), "--out", str(tmp_path / "ort")],
        "torch": [
            str(out),
            str(scans),
            "--runtime",
            "torch",
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "torch"),
        ],
        "config": [
            str(config),
            str(scans),
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / "config"),
        ],
    }
    for name, argv in runs.items():
        assert infer.main(argv) == 0, name
    printed = capsys.readouterr().out
    assert "000000:" in printed and "000001:" in printed
    for frame in ("000000", "000001"):
        reference = read_boxes(tmp_path / "torch", frame)
        assert reference, "no boxes to compare"
        for other in ("ort", "config"):
            boxes = read_boxes(tmp_path / other, frame)
            assert len(boxes) == len(reference)
            for a, b in zip(
                sorted(reference, key=lambda x: -x["score"]),
                sorted(boxes, key=lambda x: -x["score"]),
            ):
                assert abs(a["score"] - b["score"]) < 1e-4 and a["label"] == b["label"]
                assert np.allclose(a["box"], b["box"], atol=1e-3)


def test_kitti_label_files_on_the_shared_frames(exported, shared_data, tmp_path):
    _, _, out, _ = exported
    root = os.path.join(shared_data, "kitti", "training")
    status = tool("infer").main(
        [
            str(out),
            os.path.join(root, "velodyne", "000000.bin"),
            "--format",
            "kitti",
            "--kitti-root",
            root,
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 0
    lines = (tmp_path / "000000.txt").read_text().splitlines()
    assert lines and all(len(line.split()) == 16 for line in lines)
    assert {line.split()[0] for line in lines} <= set(SyntheticLidar.classes)


def test_user_mistakes_are_one_line(exported, tmp_path, capsys):
    from geo3d.engine.cli import run_tool

    config, checkpoint, out, scans = exported
    infer = tool("infer")
    cases = [
        ([str(out), str(scans), "--runtime", "tensorrt"], "TensorRT is not installed"),
        ([str(config), str(scans), "--runtime", "onnxruntime"], "needs an export directory"),
        ([str(out), str(scans), "--runtime", "torch"], "needs --checkpoint"),
        ([str(tmp_path), str(scans)], "not an export directory"),
        ([str(out), str(tmp_path / "nothing")], "no such file or folder"),
    ]
    for argv, message in cases:
        assert run_tool(lambda argv=argv: infer.main(argv)) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)


def test_a_config_that_is_not_a_detector_does_not_export(tmp_path, capsys):
    from geo3d.engine.cli import run_tool

    config = load_config(os.path.join(ROOT, "configs", "pointpn_synthetic.yaml"))
    assert config.data.task != "detection"
    checkpoint = tmp_path / "x.pt"
    torch.save({"model": {}}, checkpoint)
    argv = [
        os.path.join(ROOT, "configs", "pointpn_synthetic.yaml"),
        str(checkpoint),
        "--out",
        str(tmp_path / "o"),
    ]
    assert run_tool(lambda: tool("export").main(argv)) == 2
    assert "only detectors export" in capsys.readouterr().err
