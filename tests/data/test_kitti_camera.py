"""The camera side of KITTI: projection, the camera's field of view, LiDAR detections as
camera-frame annotation dicts (what the official evaluation reads), label files written
back, and the training loop's evaluation on KITTI frames with KITTI's official metric."""

import math
import os

import numpy as np
import pytest
import torch

from geo3d.data import build_dataset, io
from geo3d.data.datasets import KittiDetection
from geo3d.engine.tasks import make_task
from geo3d.metrics import kitti_eval

FRAMES = ("000000", "000001", "000002", "000003")


def toy_calibration(f=700.0, cx=600.0, cy=170.0):
    """LiDAR x forward, y left, z up; camera x right, y down, z forward; no offsets."""
    return io.KittiCalibration(
        P2=np.array([[f, 0, cx, 0], [0, f, cy, 0], [0, 0, 1, 0]], dtype=np.float64),
        R0_rect=np.eye(3),
        Tr_velo_to_cam=np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]], dtype=np.float64),
    )


def shared_frame(shared_data, frame):
    training = os.path.join(shared_data, "kitti", "training")
    calibration = io.read_kitti_calibration(os.path.join(training, "calib", f"{frame}.txt"))
    objects = io.read_kitti_labels(os.path.join(training, "label_2", f"{frame}.txt"))
    shape = io.read_image_shape(os.path.join(training, "image_2", f"{frame}.png"))
    return calibration, objects, shape


def test_projection_by_hand():
    calibration = toy_calibration()
    rect = np.array([[0.0, 0.0, 10.0], [2.0, -1.0, 20.0], [1.0, 0.0, -5.0]])
    pixels, depth = calibration.rect_to_image(rect)
    assert pixels[0] == pytest.approx([600, 170])
    assert pixels[1] == pytest.approx([600 + 700 * 2 / 20, 170 - 700 / 20])
    assert depth == pytest.approx([10, 20, -5])


def test_field_of_view_by_hand():
    """Ahead is seen; behind, far to the side and above the image are not."""
    points = np.array(
        [[10.0, 0, 0], [-10.0, 0, 0], [10.0, 50.0, 0], [10.0, 0, 8.0], [10.0, 8.0, -1.0]]
    )
    seen = io.camera_field_of_view(points, toy_calibration(), (375, 1242))
    # u = 600 - 700 y / x: y = 8 at x = 10 gives 40 (inside); z = 8 gives v = 170 - 560 < 0
    assert seen.tolist() == [True, False, False, False, True]


def test_labels_survive_the_trip_through_the_lidar_frame(shared_data):
    """Labels to LiDAR boxes and back as detections: the same 3D boxes, 2D boxes from the
    projected corners within a few pixels of the annotators' (where the object is not cut
    by the image border), and alpha within 0.01 (the label's alpha is seen from the camera,
    ours from the LiDAR, 0.27 m apart)."""
    for frame in FRAMES:
        calibration, objects, shape = shared_frame(shared_data, frame)
        boxes, names = io.kitti_objects_to_lidar_boxes(objects, calibration)
        anno = io.lidar_boxes_to_kitti_anno(
            boxes.double(), names, np.ones(len(names)), calibration, shape
        )
        labels = io.kitti_objects_to_anno([o for o in objects if o.type != "DontCare"])
        for key in ("location", "dimensions", "rotation_y"):
            assert np.abs(anno[key] - labels[key]).max() < 1e-5, (frame, key)
        assert np.abs(anno["alpha"] - labels["alpha"]).max() < 0.01
        assert np.abs(anno["bbox"] - labels["bbox"]).max() < 12
        assert (anno["bbox"][:, 2] <= shape[1] - 1).all() and (
            anno["bbox"][:, 3] <= shape[0] - 1
        ).all()


def test_corners_of_a_turned_box_project_as_its_image_rectangle():
    """A 4 x 2 m box 10 m ahead, turned by 90 degrees: its length now runs across the
    image, so the 2D box is the projection of a 4 m wide, 1.5 m tall face at 9 and 11 m."""
    calibration = toy_calibration()
    box = np.array([[10.0, 0.0, 0.75, 4.0, 2.0, 1.5, math.pi / 2]])
    anno = io.lidar_boxes_to_kitti_anno(box, ["Car"], [0.9], calibration, None)
    assert anno["rotation_y"] == pytest.approx([-math.pi])
    assert anno["location"][0] == pytest.approx([0.0, 0.0, 10.0])  # bottom centre
    assert anno["dimensions"][0] == pytest.approx([4.0, 1.5, 2.0])  # l, h, w
    near = 9.0  # half the width nearer
    assert anno["bbox"][0] == pytest.approx(
        [600 - 700 * 2 / near, 170 - 700 * 1.5 / near, 600 + 700 * 2 / near, 170]
    )


def test_written_labels_read_back(tmp_path):
    rng = np.random.default_rng(0)
    boxes = np.column_stack(
        [
            rng.uniform(5, 40, 6),
            rng.uniform(-10, 10, 6),
            rng.uniform(-1, 1, 6),
            rng.uniform(1, 5, (6, 3)),
            rng.uniform(-math.pi, math.pi, 6),
        ]
    )
    anno = io.lidar_boxes_to_kitti_anno(
        boxes, ["Car", "Pedestrian"] * 3, rng.uniform(0, 1, 6), toy_calibration(), (375, 1242)
    )
    io.write_kitti_labels(tmp_path / "000007.txt", anno)
    back = io.kitti_objects_to_anno(io.read_kitti_labels(tmp_path / "000007.txt"))
    assert back["name"].tolist() == anno["name"].tolist()
    for key in ("alpha", "bbox", "dimensions", "location", "rotation_y", "score"):
        assert np.abs(back[key] - anno[key]).max() <= 5e-5, key


def test_dataset_keeps_what_the_camera_sees(shared_data):
    training = os.path.join(shared_data, "kitti", "training")
    full = KittiDetection(training, split=None, fov_only=False)[0]
    seen = KittiDetection(training, split=None)[0]
    record = seen["kitti"]
    assert record.image_shape == (370, 1224)
    assert 0 < seen["points"].shape[0] < full["points"].shape[0] / 3
    mask = io.camera_field_of_view(full["points"].numpy(), record.calibration, record.image_shape)
    assert torch.equal(seen["points"], full["points"][torch.from_numpy(mask)])
    assert "DontCare" in KittiDetection(training, split=None)[1]["kitti"].anno["name"]
    assert torch.equal(seen["boxes"], full["boxes"])


def kitti_root(shared_data, tmp_path):
    root = tmp_path / "kitti"
    (root / "ImageSets").mkdir(parents=True)
    os.symlink(os.path.join(shared_data, "kitti", "training"), root / "training")
    (root / "ImageSets" / "train.txt").write_text("000000\n000001\n")
    (root / "ImageSets" / "val.txt").write_text("\n".join(FRAMES) + "\n")
    return str(root)


class Oracle(torch.nn.Module):
    """Predicts the ground truth it was handed, each box moved by ``shift`` metres."""

    def __init__(self, shift=0.0):
        super().__init__()
        self.shift = shift

    def forward(self, points, batch, scenes):
        return self.found

    def predict(self, outputs):
        return outputs


def test_training_loop_evaluates_kitti_with_the_official_metric(shared_data, tmp_path):
    """The ``kitti`` data set's validation goes through :func:`kitti_eval` in the camera
    frame: a perfect detector gets what kitti_eval gives the labels themselves (as
    detections, converted from the LiDAR frame); augmented training scenes carry no
    camera record."""
    data = build_dataset("kitti", root=kitti_root(shared_data, tmp_path), augment=["flip"])
    assert "kitti" not in data.train[0] and "kitti" in data.val[0]
    task = make_task(data)
    batch = data.collate_fn([data.val[i] for i in range(len(data.val))])
    inputs, targets = task.split(batch, torch.device("cpu"))
    boxes, labels, counts = targets[:3]
    model = Oracle()
    found = [
        {
            "boxes": boxes[b, : counts[b]],
            "labels": labels[b, : counts[b]],
            "scores": torch.linspace(0.9, 0.5, int(counts[b])),
        }
        for b in range(len(counts))
    ]
    metrics = task.metrics(task.batch_sums(model, found, targets))
    gt_annos = [r.anno for r in batch["kitti"]]
    dt_annos = []
    for b, record in enumerate(batch["kitti"]):
        names = [data.classes[int(k)] for k in found[b]["labels"]]
        dt_annos.append(
            io.lidar_boxes_to_kitti_anno(
                found[b]["boxes"].double().numpy(),
                names,
                found[b]["scores"].numpy(),
                record.calibration,
                record.image_shape,
            )
        )
    expected = kitti_eval(gt_annos, dt_annos, classes=tuple(data.classes))
    assert metrics["Car_3d_moderate"] == pytest.approx(expected["Car_3d_moderate_R40"] / 100)
    assert metrics["Car_aos_easy"] == pytest.approx(expected["Car_aos_easy_R40"] / 100)
    assert metrics["Car_bbox_moderate"] > 0 and "Car_aos_moderate" in metrics
    bev = [expected[f"{c}_bev_moderate_R40"] for c in data.classes]
    assert metrics["map_bev"] == pytest.approx(sum(bev) / len(bev) / 100)
    # the same boxes 2 m off are no match at IoU 0.7: the official metric sees it
    for f in found:
        f["boxes"] = f["boxes"] + torch.tensor([2.0, 0, 0, 0, 0, 0, 0])
    moved = task.metrics(task.batch_sums(model, found, targets))
    assert moved["Car_3d_moderate"] == 0.0 and metrics["Car_3d_moderate"] > 0


def test_test_tool_writes_kitti_label_files(shared_data, tmp_path):
    """tools/test.py with --kitti-labels: one 16-field label file per val frame, and the
    official metric in the printed results; --kitti-split test reads testing/ (no labels)."""
    import contextlib
    import importlib.util
    import io as text_io
    import json

    from geo3d.engine import load_config
    from geo3d.engine.checkpoint import save_atomic
    from geo3d.models import create_model

    root_dir = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    root = kitti_root(shared_data, tmp_path)
    os.symlink(os.path.join(shared_data, "kitti", "training"), os.path.join(root, "testing"))
    (tmp_path / "kitti" / "ImageSets" / "test.txt").write_text("000003\n")
    config_path = os.path.join(root_dir, "configs", "pointpillars_kitti.yaml")
    config = load_config(config_path, [f"data.root={root}"])
    torch.manual_seed(0)
    model = create_model("pointpillars", num_classes=3, **config.model.options)
    save_atomic({"model": model.state_dict()}, str(tmp_path / "model.pt"))
    tool = importlib.import_module("geo3d.cli.test")
    out = text_io.StringIO()
    args = [config_path, str(tmp_path / "model.pt"), "--set", f"data.root={root}"]
    with contextlib.redirect_stdout(out):
        assert tool.main([*args, "--kitti-labels", str(tmp_path / "val")]) == 0
    results = json.loads(out.getvalue())
    assert "val_Car_aos_moderate" in results and results["test_map_bev"] == results["val_map_bev"]
    written = sorted(os.listdir(tmp_path / "val"))
    assert written == [f"{f}.txt" for f in FRAMES]
    for name in written:
        for line in (tmp_path / "val" / name).read_text().splitlines():
            assert len(line.split()) == 16
        io.read_kitti_labels(tmp_path / "val" / name)  # reads back
    assert (
        tool.main([*args, "--kitti-labels", str(tmp_path / "test"), "--kitti-split", "test"]) == 0
    )
    assert os.listdir(tmp_path / "test") == ["000003.txt"]
