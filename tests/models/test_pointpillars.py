"""PointPillars with a CenterPoint head on the common pipeline: shapes, a loss that training
lowers, predictions per scene, and tools/train.py end to end on synthetic_lidar."""

import importlib.util
import os

import numpy as np
import pytest
import torch

from geo3d.data import build_dataset
from geo3d.engine import load_config, run
from geo3d.models import create_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = {
    "voxel_size": [0.64, 0.64, 4.0],
    "point_range": [-51.2, -35.84, -3.0, 51.2, 35.84, 1.0],
    "pillar_channels": [16],
    "layer_nums": [1, 1, 1],
    "num_filters": [16, 32, 32],
    "upsample_filters": [16, 16, 16],
}


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("GEO3D_CACHE", str(tmp_path_factory.mktemp("cache")))
    data = build_dataset("synthetic_lidar", frames=2)
    yield data, data.collate_fn([data.train[0], data.train[1]])
    patch.undo()


@pytest.mark.parametrize("pooling", ["max", "soft", "attention"])
def test_forward_loss_and_predictions(scenes, pooling):
    data, batch = scenes
    torch.manual_seed(0)
    model = create_model("pointpillars", num_classes=3, pooling=pooling, **SMALL)
    inputs = (batch["points"], batch["batch"], torch.tensor(2))
    targets = (batch["boxes"], batch["box_labels"], batch["num_boxes"])
    logits, regression = model(*inputs)
    assert logits.shape == (2, 3, 56, 80) and regression.shape == (2, 8, 56, 80)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(8):  # the same batch: the loss must fall
        loss = model.loss(model(*inputs), targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    model.eval()
    with torch.no_grad():
        found = model.predict(model(*inputs))
    assert len(found) == 2
    for scene in found:
        n = scene["boxes"].shape[0]
        assert scene["boxes"].shape == (n, 7) and scene["scores"].shape == (n,)
        assert bool((scene["labels"] >= 0).all() and (scene["labels"] < 3).all())


def test_train_py_trains_and_reports_ap(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path / "cache"))
    overrides = [
        f"output_dir={tmp_path}",
        "train.epochs=1",
        "train.max_train_batches=1",
        "data.frames=4",
        "data.batch_size=2",
        "data.eval_batch_size=2",
        "model.options=" + str(SMALL).replace("'", ""),
    ]
    config = load_config(os.path.join(ROOT, "configs", "pointpillars_synthetic.yaml"), overrides)
    results = run(config)
    assert 0 <= results["test_map_bev"] <= 1 and "test_Car_bev_moderate" in results
    assert (tmp_path / config.name / "best.pt").is_file()
    if importlib.util.find_spec("tensorboard") is not None:  # bird's-eye pictures per eval
        from tests.engine.test_tensorboard import read_events

        events = read_events(tmp_path / config.name / "tensorboard")
        assert {"val/scene_0", "val/scene_1"} <= set(events.Tags()["images"])
        assert "val/map_bev" in events.Tags()["scalars"]


def test_detection_pictures(scenes, tmp_path):
    pytest.importorskip("open3d")
    from geo3d import vis

    data, batch = scenes
    torch.manual_seed(0)
    model = create_model("pointpillars", num_classes=3, score_threshold=0.0, **SMALL).eval()
    geometries, title = vis.detection_views(model, batch, data.classes, scene=1)
    n = int(batch["num_boxes"][1])
    assert len(geometries) >= 2 and title.startswith("true/predicted boxes")
    assert f"Car {sum(int(k) == 0 for k in batch['box_labels'][1, :n])}/" in title
    labels = [g for g in geometries if isinstance(g, vis.Label)]
    assert len(labels) == len(model.predict(model(*inputs_of(batch)))[1]["boxes"]) > 0
    assert all(label.text.split()[0] in data.classes for label in labels)
    out, bare = tmp_path / "scene.png", tmp_path / "bare.png"
    vis.render(geometries, str(out), 320, 240)
    vis.render([g for g in geometries if not isinstance(g, vis.Label)], str(bare), 320, 240)
    assert out.stat().st_size > 1000 and out.read_bytes() != bare.read_bytes()


def inputs_of(batch):
    return batch["points"], batch["batch"], torch.tensor(batch["num_boxes"].shape[0])


def test_labels_project_through_a_pinhole_camera():
    from geo3d.vis.scene import Label, project_labels

    intrinsic = np.array([[100.0, 0, 50], [0, 100.0, 40], [0, 0, 1]])
    extrinsic = np.eye(4)
    extrinsic[:3, 3] = [0.0, 0.0, 1.0]  # the world origin 1 m in front of the camera
    front, behind = Label((0.1, 0.2, 1.0), "front"), Label((0.0, 0.0, -3.0), "behind")
    placed = project_labels([front, behind], intrinsic, extrinsic)
    assert len(placed) == 1 and placed[0][2] is front
    assert placed[0][:2] == pytest.approx((55.0, 50.0))


def test_kitti_config_trains_a_step_on_real_frames(shared_data, tmp_path):
    """configs/pointpillars_kitti.yaml on the shared KITTI frames, laid out as KITTI with
    ImageSets: the capped pillars hold at most 32 points, and a training step with every
    augmentation runs and lowers nothing to NaN."""
    training = os.path.join(shared_data, "kitti", "training")
    if not os.path.isdir(training):
        pytest.skip(f"{training} is not here")
    root = tmp_path / "kitti"
    (root / "ImageSets").mkdir(parents=True)
    os.symlink(training, root / "training")
    frames = sorted(f[:-4] for f in os.listdir(os.path.join(training, "velodyne")))
    (root / "ImageSets" / "train.txt").write_text("\n".join(frames[:2]) + "\n")
    (root / "ImageSets" / "val.txt").write_text("\n".join(frames[2:]) + "\n")
    config = load_config(
        os.path.join(ROOT, "configs", "pointpillars_kitti.yaml"), [f"data.root={root}"]
    )
    data = build_dataset("kitti", root=str(root), augment=config.data.augment)
    assert len(data.train) == 2 and data.train.database is not None
    torch.manual_seed(0)
    model = create_model("pointpillars", num_classes=3, **config.model.options)
    batch = data.collate_fn([data.train[0], data.train[1]])
    vfe = model.encoder.vfe
    assert vfe.max_points_per_voxel == 32 and vfe.max_voxels == (16000, 40000)
    inputs = (batch["points"], batch["batch"], torch.tensor(2))
    targets = (batch["boxes"], batch["box_labels"], batch["num_boxes"])
    loss = model.loss(model(*inputs), targets)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    features, pillars = vfe(batch["points"], batch["batch"])
    assert features.shape[0] == pillars.shape[0] <= 2 * 16000
