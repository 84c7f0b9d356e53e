import importlib.util
import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_tool():
    return importlib.import_module("geo3d.cli.visualize")


def drawn_fraction(path):
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int32)
    return float((pixels.sum(axis=2) < 740).mean())  # not (near) white background


@pytest.mark.parametrize(
    "args",
    [
        ["kitti", "{data}/kitti/training", "--frame", "000002"],
        ["mesh", "{data}/meshes/cow.obj"],
        ["mesh", "{data}/meshes/cow.obj", "--pool", "0.5", "300", "--pool-variant", "exact"],
        [
            "points",
            "{data}/nuscenes/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin",
            "--boxes",
            "{data}/nuscenes/boxes.json",
        ],
        ["modelnet", "{data}/modelnet/ModelNet40", "--split", "test", "--index", "1"],
        ["synthetic_shapes", "--split", "val", "--index", "7"],
        ["synthetic_lidar", "--split", "val", "--index", "1"],
        ["synthetic_meshes", "--split", "val", "--index", "15"],
    ],
)
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


def test_model_pictures_of_a_classifier_and_a_segmenter(shared_data, tmp_path):
    """geo3d.vis draws a MeshCNN at work: the segmenter's labels beside its predictions
    (title with its edge accuracy), the classifier's mesh after each pooling."""
    import torch

    from geo3d import vis
    from geo3d.data import build_dataset
    from geo3d.models import create_model

    data = build_dataset("synthetic_meshes", task="segmentation", features="exact", per_class=1)
    sample = data.test[0]
    (features, mesh), targets = data.collate_fn([sample])
    torch.manual_seed(0)
    segmenter = create_model(
        "meshcnn_segmenter", num_classes=3, channels=[8, 16], pool_targets=[0.7], resblocks=1
    ).eval()
    geometries, title = vis.segmentation_views(
        segmenter, features, mesh, targets.edge_labels, sample["vertices"], sample["faces"]
    )
    predicted = segmenter(features, mesh).argmax(dim=1)
    accuracy = float((predicted == targets.edge_labels).float().mean())
    assert len(geometries) == 4 and title.endswith(f"(edge accuracy {accuracy:.3f})")
    classifier = create_model(
        "meshcnn_classifier", num_classes=7, channels=[8, 16], pool_targets=[0.8, 0.6], norm="batch"
    ).eval()
    geometries, title = vis.classifier_stage_views(
        classifier, features, mesh, sample["vertices"], sample["faces"], list("abcdefg"), 2
    )
    assert len(geometries) == 1 + 2 * 2 and title.startswith("true c, predicted ")
    assert title.count("->") == 2
    out = tmp_path / "model.png"
    vis.render(geometries, str(out), 320, 240)
    assert 0.002 < drawn_fraction(out) < 0.9


def test_labels_land_where_the_rendered_geometry_is(tmp_path):
    """The camera used for the labels is the one the picture was rendered with: a red
    box's pixels centre where view_camera projects the box centre."""
    pytest.importorskip("open3d")
    import torch
    from PIL import Image

    from geo3d import vis
    from geo3d.vis.scene import Label, project_labels, view_camera

    box = torch.tensor([[30.0, -12.0, -1.0, 4.0, 4.0, 2.0, 0.0]])
    frame = torch.tensor([[0.0, 0.0, -1.0, 100.0, 70.0, 0.2, 0.0]])  # sets the extent
    view = {"front": [-0.6, 0.0, 0.8], "lookat": [20.0, 0.0, 0.0], "up": [1.0, 0.0, 0.0]}
    view["zoom"] = 0.25
    geometries = [vis.box_lines(box, (1.0, 0.0, 0.0)), vis.box_lines(frame, (0.0, 0.0, 1.0))]
    intrinsic, extrinsic = view_camera(geometries, view, 600, 400)
    ((u, v, _),) = project_labels([Label((30.0, -12.0, -1.0), "x")], intrinsic, extrinsic)
    # With a label (geo3d's camera set explicitly) and without (Open3D's own view control):
    # the same framing, and the box where the label's projection says.
    for name, extra in (("labelled", [Label((30.0, -12.0, -1.0), "x")]), ("plain", [])):
        out = tmp_path / f"{name}.png"
        vis.render(geometries + extra, str(out), 600, 400, view=view)
        pixels = np.asarray(Image.open(out).convert("RGB")).astype(int)
        red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
        rows, columns = np.nonzero(red)
        assert abs(columns.mean() - u) < 12 and abs(rows.mean() - v) < 12, name
