import math
import os

import pytest
import torch

from geo3d.data import transforms as T
from geo3d.data.collate import collate_points, collate_scenes
from geo3d.data.io import (
    kitti_objects_to_lidar_boxes,
    read_kitti_calibration,
    read_kitti_labels,
    read_points,
)
from geo3d.data.synthetic import SyntheticShapes
from geo3d.structures import count_points_in_boxes


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def cloud(n=200, seed=0):
    g = gen(seed)
    normals = torch.randn(n, 3, generator=g)
    return {
        "points": torch.randn(n, 4, generator=g),
        "normals": normals / normals.norm(dim=1, keepdim=True),
        "label": torch.tensor(3),
    }


def test_transforms_do_not_modify_their_input():
    sample = cloud()
    before = {k: v.clone() for k, v in sample.items()}
    pipeline = T.Compose(
        [
            T.NormalizeUnitSphere(),
            T.RandomRotation(so3=True),
            T.RandomScale(),
            T.RandomTranslate(),
            T.Jitter(),
            T.RandomDropout(),
            T.RandomFlip(("x", "y")),
            T.ShufflePoints(),
            T.SampleOrPad(150),
        ]
    )
    out = pipeline(sample, gen())
    assert all(torch.equal(before[k], sample[k]) for k in before)
    assert (
        out["points"].shape == (150, 4)
        and out["normals"].shape == (150, 3)
        and int(out["label"]) == 3
    )
    again = pipeline(cloud(), gen())
    assert torch.equal(out["points"], again["points"])  # deterministic for a generator


def test_rotation_and_normalisation_properties():
    sample = T.NormalizeUnitSphere()(cloud(), gen())
    assert torch.allclose(sample["points"][:, :3].mean(0), torch.zeros(3), atol=1e-6)
    assert math.isclose(float(sample["points"][:, :3].norm(dim=1).max()), 1.0, rel_tol=1e-6)
    rotated = T.RandomRotation(so3=True)(sample, gen(3))
    assert torch.allclose(
        rotated["points"][:, :3].norm(dim=1), sample["points"][:, :3].norm(dim=1), atol=1e-5
    )
    # normals stay perpendicular-consistent: dot products between points and normals preserved
    dots = (sample["points"][:, :3] * sample["normals"]).sum(1)
    assert torch.allclose((rotated["points"][:, :3] * rotated["normals"]).sum(1), dots, atol=1e-5)
    assert torch.equal(rotated["points"][:, 3], sample["points"][:, 3])  # features untouched


def test_sample_or_pad_keeps_all_points_when_padding():
    out = T.SampleOrPad(300)(cloud(120), gen())
    assert out["points"].shape[0] == 300
    assert torch.equal(out["points"][:120], cloud(120)["points"])
    with pytest.raises(ValueError, match="empty"):
        T.SampleOrPad(5)({"points": torch.zeros(0, 3)}, gen())


def test_lidar_augmentations_keep_points_inside_their_boxes(shared_data):
    root = os.path.join(shared_data, "kitti", "training")
    points = read_points(os.path.join(root, "velodyne", "000003.bin"))
    boxes, _ = kitti_objects_to_lidar_boxes(
        read_kitti_labels(os.path.join(root, "label_2", "000003.txt")),
        read_kitti_calibration(os.path.join(root, "calib", "000003.txt")),
    )
    scene = {
        "points": torch.cat([points["xyz"], points["intensity"][:, None]], 1).double(),
        "boxes": boxes.double(),
    }
    before = count_points_in_boxes(scene["points"], scene["boxes"])
    assert int(before.sum()) > 100
    for seed in range(4):
        pipeline = T.Compose(
            [
                T.RandomFlip(("x", "y")),
                T.RandomRotation(math.pi / 4),
                T.RandomScale(0.95, 1.05, anisotropic=False),
                T.RandomTranslate(0.5),
            ]
        )
        out = pipeline(scene, gen(seed))
        assert torch.equal(count_points_in_boxes(out["points"], out["boxes"]), before)
    with pytest.raises(ValueError, match="shear"):
        T.RandomScale()(scene, gen())
    kept = T.PointRangeFilter((0, -40, -3, 70.4, 40, 1))(scene, gen())
    assert (kept["points"][:, 0] >= 0).all() and kept["boxes"].shape[0] <= boxes.shape[0]


def test_collate_points_and_scenes():
    batch = collate_points([cloud(5), cloud(3)])
    assert batch["points"].shape == (2, 5, 4) and batch["lengths"].tolist() == [5, 3]
    assert (batch["points"][1, 3:] == 0).all() and batch["label"].tolist() == [3, 3]
    scenes = collate_scenes(
        [
            {
                "points": torch.rand(4, 4),
                "boxes": torch.rand(2, 7),
                "box_labels": torch.tensor([1, 2]),
            },
            {
                "points": torch.rand(3, 4),
                "boxes": torch.zeros(0, 7),
                "box_labels": torch.zeros(0, dtype=torch.long),
            },
        ]
    )
    assert scenes["points"].shape == (7, 4) and scenes["batch"].tolist() == [0] * 4 + [1] * 3
    assert scenes["boxes"].shape == (2, 2, 7) and scenes["num_boxes"].tolist() == [2, 0]
    assert scenes["box_labels"].tolist() == [[1, 2], [-1, -1]]


def test_dataloader_with_workers():
    data = SyntheticShapes("val", num_points=128, per_class=2, cache_dir=False, progress=False)
    loader = torch.utils.data.DataLoader(
        data, batch_size=5, num_workers=2, collate_fn=collate_points
    )
    batches = list(loader)
    assert sum(b["points"].shape[0] for b in batches) == len(data)
    assert torch.equal(torch.cat([b["label"] for b in batches]), data.labels)


def test_flips_and_rotations_move_diagonal_boxes_with_their_points():
    g = gen(5)
    boxes = torch.tensor(
        [[5.0, 2.0, 0.0, 4.0, 1.0, 1.5, 0.6], [-3.0, -6.0, 1.0, 2.0, 0.5, 1.0, -1.1]],
        dtype=torch.float64,
    )
    local = (
        (torch.rand(2, 300, 3, generator=g, dtype=torch.float64) - 0.5) * 0.98 * boxes[:, None, 3:6]
    )
    from geo3d.structures import rotate_points_z

    inside = rotate_points_z(local, boxes[:, None, 6].expand(-1, 300)) + boxes[:, None, :3]
    scene = {"points": inside.reshape(-1, 3), "boxes": boxes}
    for axes in (("x",), ("y",)):
        for seed in range(6):
            out = T.Compose([T.RandomFlip(axes), T.RandomRotation()])(scene, gen(seed))
            assert count_points_in_boxes(out["points"], out["boxes"]).tolist() == [300, 300]


def test_headings_keep_pointing_at_the_front_of_the_box():
    boxes = torch.tensor(
        [[5.0, 2.0, 0.0, 4.0, 1.0, 1.5, 0.6], [-3.0, -6.0, 1.0, 2.0, 0.5, 1.0, -1.1]],
        dtype=torch.float64,
    )
    heading = torch.stack(
        [torch.cos(boxes[:, 6]), torch.sin(boxes[:, 6]), torch.zeros(2, dtype=torch.float64)], 1
    )
    fronts = boxes[:, :3] + 0.45 * boxes[:, 3:4] * heading  # a point near each box's front face
    for seed in range(8):
        pipeline = T.Compose(
            [
                T.RandomFlip(("x", "y")),
                T.RandomRotation(),
                T.RandomScale(0.9, 1.1, anisotropic=False),
            ]
        )
        out = pipeline({"points": fronts, "boxes": boxes}, gen(seed))
        b = out["boxes"]
        direction = torch.stack(
            [torch.cos(b[:, 6]), torch.sin(b[:, 6]), torch.zeros(2, dtype=torch.float64)], 1
        )
        assert torch.allclose(out["points"], b[:, :3] + 0.45 * b[:, 3:4] * direction, atol=1e-9)
