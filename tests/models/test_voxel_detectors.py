"""CenterPoint-Voxel and DSVT-Pillar on the common pipeline: shapes, a loss that training
lowers, predictions per scene, the synthetic configs, and the spconv backend switch."""

import os

import pytest
import torch

from geo3d.data import build_dataset
from geo3d.engine import load_config
from geo3d.models import create_model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RANGE = [-51.2, -35.84, -3.0, 51.2, 35.84, 1.0]
SMALL = {
    "centerpoint_voxel": {
        "voxel_size": [0.32, 0.32, 0.16],
        "point_range": RANGE,
        "sparse_channels": [4, 8, 8, 8],
        "sparse_out_channels": 8,
        "layer_nums": [1, 1],
        "num_filters": [16, 16],
        "upsample_strides": [2, 4],
        "upsample_filters": [8, 8],
        "head_channels": 8,
    },
    "dsvt_pillar": {
        "voxel_size": [0.64, 0.64, 4.0],
        "point_range": RANGE,
        "vfe_channels": [16, 16],
        "d_model": 16,
        "heads": 2,
        "ffn": 32,
        "blocks": 2,
        "layer_nums": [1, 1, 1],
        "layer_strides": [2, 2, 2],
        "num_filters": [16, 16, 16],
        "upsample_filters": [8, 8, 8],
        "head_channels": 8,
    },
    "dsvt_voxel": {
        "voxel_size": [0.64, 0.64, 0.5],
        "point_range": RANGE,
        "vfe_channels": [16, 16],
        "d_model": 16,
        "heads": 2,
        "ffn": 32,
        "blocks_per_stage": [1, 1, 1],
        "stage_depths": [8, 2, 1],
        "z_pools": [4, 2],
        "set_size": 16,
        "layer_nums": [1, 1, 1],
        "layer_strides": [2, 2, 2],
        "num_filters": [16, 16, 16],
        "upsample_filters": [8, 8, 8],
        "head_channels": 8,
    },
}
# feature maps: voxel 0.32 m grid (320 x 224) / 8 * 2 -> 80 x 56; pillars 0.64 m / 2 -> 80 x 56
FEATURE_SHAPE = (56, 80)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("GEO3D_CACHE", str(tmp_path_factory.mktemp("cache")))
    data = build_dataset("synthetic_lidar", frames=2)
    yield data, data.collate_fn([data.train[0], data.train[1]])
    patch.undo()


@pytest.mark.parametrize(
    "name, extra",
    [
        ("centerpoint_voxel", {}),
        ("dsvt_pillar", {}),
        ("dsvt_voxel", {}),
        ("dsvt_voxel", {"reduction": "max"}),
    ],
)
def test_forward_loss_and_predictions(scenes, name, extra):
    data, batch = scenes
    torch.manual_seed(0)
    model = create_model(name, num_classes=3, **SMALL[name], **extra)
    inputs = (batch["points"], batch["batch"], torch.tensor(2))
    targets = (batch["boxes"], batch["box_labels"], batch["num_boxes"])
    logits, regression = model(*inputs)
    assert logits.shape == (2, 3, *FEATURE_SHAPE) and regression.shape == (2, 8, *FEATURE_SHAPE)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(6):  # the same batch: the loss must fall
        loss = model.loss(model(*inputs), targets)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    model.eval()
    with torch.no_grad():
        found = model.predict(model(*inputs))
    assert len(found) == 2
    for scene in found:
        n = scene["boxes"].shape[0]
        assert scene["boxes"].shape == (n, 7) and scene["scores"].shape == (n,)


@pytest.mark.parametrize(
    "config",
    [
        "centerpoint_voxel_synthetic.yaml",
        "dsvt_pillar_synthetic.yaml",
        "pvt_pillar_synthetic.yaml",
        "dsvt_voxel_synthetic.yaml",
    ],
)
def test_synthetic_configs_build_and_run_a_scene(config, scenes):
    data, batch = scenes
    loaded = load_config(os.path.join(ROOT, "configs", config))
    model = create_model(loaded.model.name, num_classes=3, **loaded.model.options).eval()
    with torch.no_grad():
        logits, _ = model(batch["points"], batch["batch"], torch.tensor(2))
    assert logits.shape == (2, 3, 112, 160)  # 0.64 m cells, as pointpillars_synthetic


def test_spconv_backend_gives_the_same_outputs(scenes):
    pytest.importorskip("spconv.pytorch")
    data, batch = scenes
    torch.manual_seed(0)
    ours = create_model("centerpoint_voxel", num_classes=3, **SMALL["centerpoint_voxel"]).eval()
    theirs = create_model(
        "centerpoint_voxel", num_classes=3, sparse_backend="spconv", **SMALL["centerpoint_voxel"]
    ).eval()
    theirs.load_state_dict(ours.state_dict())  # one weight layout
    inputs = (batch["points"], batch["batch"], torch.tensor(2))
    with torch.no_grad():
        for a, b in zip(ours(*inputs), theirs(*inputs)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("centerpoint_voxel", {"voxel_size": [0.32, 0.32, 4.0]}, "several z layers"),
        ("centerpoint_voxel", {"voxel_size": [0.512, 0.512, 0.16]}, "must divide by 8"),
        ("centerpoint_voxel", {"upsample_strides": [3, 4]}, "whole number of voxels"),
        ("dsvt_pillar", {"voxel_size": [0.32, 0.32, 0.5]}, "one z cell"),
        ("dsvt_pillar", {"d_model": 32}, "must be d_model"),
        ("dsvt_voxel", {"stage_depths": [8, 4, 1]}, "stage 1 sees 2 z layers"),
        ("dsvt_voxel", {"z_pools": [2, 2]}, "stage 1 sees 4 z layers"),
        ("dsvt_voxel", {"reduction": "mean"}, "'reduction' must be"),
    ],
)
def test_bad_options_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        create_model(name, num_classes=3, **{**SMALL[name], **options})


@pytest.mark.parametrize("config", ["centerpoint_voxel_kitti.yaml", "dsvt_pillar_kitti.yaml"])
def test_kitti_configs_train_a_step_on_real_frames(config, shared_data, tmp_path):
    """The paper-sized KITTI configs on two shared KITTI frames (camera view), with every
    augmentation: one training step, finite loss, gradients everywhere."""
    training = os.path.join(shared_data, "kitti", "training")
    root = tmp_path / "kitti"
    (root / "ImageSets").mkdir(parents=True)
    os.symlink(training, root / "training")
    (root / "ImageSets" / "train.txt").write_text("000000\n000001\n")
    (root / "ImageSets" / "val.txt").write_text("000002\n")
    loaded = load_config(os.path.join(ROOT, "configs", config), [f"data.root={root}"])
    data = build_dataset("kitti", root=str(root), augment=loaded.data.augment)
    torch.manual_seed(0)
    model = create_model(loaded.model.name, num_classes=3, **loaded.model.options)
    batch = data.collate_fn([data.train[0], data.train[1]])
    inputs = (batch["points"], batch["batch"], torch.tensor(2))
    targets = (batch["boxes"], batch["box_labels"], batch["num_boxes"])
    loss = model.loss(model(*inputs), targets)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
