import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "visualize", os.path.join(ROOT, "tools", "visualize.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def drawn_fraction(path):
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
    return float((pixels.sum(axis=2) < 740).mean())  # not (near) white background


@pytest.mark.parametrize(
    "args",
    [
        ["kitti", "{data}/kitti/training", "--frame", "000002"],
        ["mesh", "{data}/meshes/cow.obj"],
        ["points", "{data}/nuscenes/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin", "--boxes", "{data}/nuscenes/boxes.json"],
        ["modelnet", "{data}/modelnet/ModelNet40", "--split", "test", "--index", "1"],
        ["synthetic_shapes", "--split", "val", "--index", "7"],
        ["synthetic_lidar", "--split", "val", "--index", "1"],
        ["synthetic_meshes", "--split", "val", "--index", "15"],
    ],
)  # fmt: skip
def test_visualize_writes_a_png_of_the_sample(shared_data, tmp_path, monkeypatch, args):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "view.png"
    tool = load_tool()
    assert (
        tool.main(
            [a.format(data=shared_data) for a in args] + ["--out", str(out), "--size", "320x240"]
        )
        == 0
    )
    assert out.exists() and 0.002 < drawn_fraction(out) < 0.9


def test_visualize_needs_a_path():
    with pytest.raises(SystemExit):
        load_tool().main(["mesh"])
