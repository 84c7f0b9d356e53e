"""Ground-truth sampling and the scene augmentations: the object database, OpenPCDet's
collision rule, the pasted points, and seeded reproducibility."""

import math

import pytest
import torch

from geo3d.data import SCENE_AUGMENTATIONS, GroundTruthSampler, ObjectDatabase, SceneView
from geo3d.data.synthetic import Sensor, SyntheticLidar
from geo3d.ops import box_iou_bev
from geo3d.structures import count_points_in_boxes, points_in_boxes

SMALL = Sensor(beams=32, azimuth_step_deg=0.4)


@pytest.fixture(scope="module")
def scenes():
    return SyntheticLidar("train", frames=6, seed=5, sensor=SMALL, cache_dir=False, progress=False)


def _box(x, y, length=4.0, width=2.0, heading=0.0, z=-0.9, height=1.6):
    return [x, y, z, length, width, height, heading]


def _scene(boxes, labels, points_per_box=20, background=50, seed=0):
    """Points filling each box, plus background points away from them."""
    generator = torch.Generator().manual_seed(seed)
    boxes = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 7)
    clouds = []
    for box in boxes:
        local = (torch.rand(points_per_box, 3, generator=generator) - 0.5) * box[3:6] * 0.9
        c, s = math.cos(float(box[6])), math.sin(float(box[6]))
        xyz = torch.stack(
            [c * local[:, 0] - s * local[:, 1], s * local[:, 0] + c * local[:, 1], local[:, 2]], 1
        )
        clouds.append(torch.cat([xyz + box[:3], torch.rand(points_per_box, 1)], 1))
    far = torch.rand(background, 4, generator=generator) * torch.tensor([5.0, 5.0, 1.0, 1.0])
    clouds.append(far + torch.tensor([60.0, 60.0, -1.0, 0.0]))
    return {
        "points": torch.cat(clouds),
        "boxes": boxes,
        "box_labels": torch.tensor(labels, dtype=torch.int64),
        "names": [["Car", "Pedestrian"][i] for i in labels],
    }


class _Scenes(torch.utils.data.Dataset):
    classes = ["Car", "Pedestrian"]

    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_database_holds_each_objects_points_in_its_box(scenes):
    database = ObjectDatabase.from_scenes(scenes, scenes.classes, progress=False)
    expected = 0
    for index in range(len(scenes)):
        item = scenes[index]
        counts = count_points_in_boxes(item["points"][:, :3], item["boxes"])
        expected += int((counts >= 5).sum())
    assert len(database) == expected > 0
    assert database.points.shape[1] == scenes[0]["points"].shape[1]
    for k in range(0, len(database), max(len(database) // 15, 1)):
        points = database.object_points(k)
        assert points.shape[0] >= 5
        inside = points_in_boxes(points[:, :3], database.boxes[k : k + 1])
        assert bool(inside.all())
    assert sum(database.counts().values()) == len(database)


def test_min_points_filters_objects():
    items = _Scenes([_scene([_box(0, 0), _box(10, 0)], [0, 1], points_per_box=4)])
    with pytest.raises(ValueError, match="no labelled object with at least 5 points"):
        ObjectDatabase.from_scenes(items, items.classes, progress=False)
    assert len(ObjectDatabase.from_scenes(items, items.classes, min_points=4, progress=False)) == 2


def test_colliding_draws_are_both_dropped_and_clear_ones_pasted():
    # Database: two cars that overlap each other, one car alone, one pedestrian.
    source = _Scenes(
        [
            _scene([_box(20, 0), _box(21, 0.5)], [0, 0], seed=1),
            _scene([_box(-20, 10), _box(-20, -10, 0.6, 0.6, height=1.7)], [0, 1], seed=2),
        ]
    )
    database = ObjectDatabase.from_scenes(source, source.classes, min_points=1, progress=False)
    # Draw every car into a scene with one car that blocks the lone car's place.
    target = _scene([_box(-20.5, 10.5)], [0], seed=3)
    sampler = GroundTruthSampler(database, {"Car": 10})
    out = sampler(target, torch.Generator().manual_seed(0))
    assert out["boxes"].shape[0] == 1  # the pair collides with itself, the lone car with ours
    assert torch.equal(out["points"], target["points"])
    # Without the blocking car the lone car is pasted, the colliding pair still is not.
    empty = _scene([_box(0, 30, 0.5, 0.5)], [1], seed=4)
    out = sampler(empty, torch.Generator().manual_seed(0))
    assert out["boxes"].shape[0] == 2
    assert torch.allclose(out["boxes"][1], database.boxes[2])
    assert out["box_labels"].tolist() == [1, 0] and out["names"] == ["Pedestrian", "Car"]


def test_pasted_scene_is_consistent(scenes):
    database = ObjectDatabase.from_scenes(scenes, scenes.classes, progress=False)
    sampler = GroundTruthSampler(database, {"Car": 15, "Pedestrian": 10, "Cyclist": 10})
    for index in range(len(scenes)):
        item = scenes[index]
        out = sampler(item, torch.Generator().manual_seed(index))
        old = item["boxes"].shape[0]
        new = out["boxes"][old:]
        assert torch.equal(out["boxes"][:old], item["boxes"])
        assert out["box_labels"].shape[0] == out["boxes"].shape[0] == len(out["names"])
        for label, target in enumerate((15, 10, 10)):
            had = int((item["box_labels"] == label).sum())
            assert int((out["box_labels"] == label).sum()) <= max(had, target)
        # No new box overlaps any other box in bird's-eye view.
        iou = box_iou_bev(new, out["boxes"])
        iou[:, old:].fill_diagonal_(0)
        assert float(iou.max()) == 0 if new.shape[0] else True
        # Inside the new boxes lie exactly the pasted objects' points.
        inside = points_in_boxes(out["points"][:, :3], new).any(dim=1)
        assert int(inside.sum()) == sum(
            database.object_points(int(k)).shape[0]
            for k in range(len(database))
            if any(torch.equal(database.boxes[k], b) for b in new)
        )


def test_sampling_is_seeded(scenes):
    view = SceneView(scenes, ["gt_sampling", "flip", "rotate", "scale"], seed=1, progress=False)
    first = view[0]
    assert torch.equal(first["points"], view[0]["points"])
    view.set_epoch(1)
    assert not torch.equal(first["points"], view[0]["points"])
    other = SceneView(scenes, ["gt_sampling"], seed=2, progress=False)
    assert not torch.equal(
        other[0]["boxes"], SceneView(scenes, ["gt_sampling"], seed=3)[0]["boxes"]
    )


@pytest.mark.parametrize("name", ["flip", "rotate", "scale", "translate"])
def test_world_augmentations_keep_points_in_their_boxes(scenes, name):
    view = SceneView(scenes, [name], seed=0, progress=False)
    for index in range(3):
        before, after = scenes[index], view[index]
        counts = count_points_in_boxes(before["points"][:, :3], before["boxes"])
        moved = count_points_in_boxes(after["points"][:, :3], after["boxes"])
        assert (counts - moved).abs().max() <= 2  # float rounding on the faces
        assert after["box_labels"].tolist() == before["box_labels"].tolist()


def test_scene_view_refuses_unknown_names_and_classes(scenes):
    with pytest.raises(ValueError, match=r"unknown scene augmentations \['mixup'\]"):
        SceneView(scenes, ["flip", "mixup"])
    database = ObjectDatabase.from_scenes(scenes, scenes.classes, progress=False)
    with pytest.raises(ValueError, match=r"names \['Truck'\], not classes"):
        GroundTruthSampler(database, {"Truck": 5})
    with pytest.raises(ValueError, match="must be >= 0"):
        GroundTruthSampler(database, {"Car": -1})
    assert set(SCENE_AUGMENTATIONS) == {"gt_sampling", "flip", "rotate", "scale", "translate"}
