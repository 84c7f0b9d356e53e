import math

import numpy as np
import torch

from geo3d.data.collate import collate_scenes
from geo3d.data.synthetic import LIDAR_CLASSES, Sensor, SyntheticLidar, make_sweep
from geo3d.structures import count_points_in_boxes, points_in_boxes

SMALL = Sensor(beams=32, azimuth_step_deg=0.4)


def test_reproducible_and_cached(tmp_path):
    first = SyntheticLidar(
        "val", frames=2, seed=3, sensor=SMALL, cache_dir=tmp_path, progress=False
    )
    again = SyntheticLidar(
        "val", frames=2, seed=3, sensor=SMALL, cache_dir=tmp_path, progress=False
    )
    fresh = SyntheticLidar("val", frames=2, seed=3, sensor=SMALL, cache_dir=False, progress=False)
    for other in (again, fresh):
        for a, b in zip(first.samples, other.samples):
            assert all(torch.equal(a[k], b[k]) for k in ("points", "boxes", "box_labels"))
    other_seed = SyntheticLidar(
        "val", frames=1, seed=4, sensor=SMALL, cache_dir=False, progress=False
    )
    assert not torch.equal(first.samples[0]["points"], other_seed.samples[0]["points"])


def test_default_sensor_gives_kitti_like_sweeps():
    points, boxes, names = make_sweep(np.random.default_rng(0))
    assert 80_000 < points.shape[0] < 120_000  # KITTI: 113k-127k per sweep
    assert points.dtype == np.float32 and points.shape[1] == 4
    assert set(names) <= set(LIDAR_CLASSES) and "Car" in names
    ranges = np.linalg.norm(points[:, :3] + [0, 0, 0], axis=1)
    assert ranges.max() < 80.5 and (points[:, 3] >= 0).all() and (points[:, 3] <= 1).all()
    ground = points[:, 2] < -1.6
    assert abs(np.median(points[ground, 2]) + 1.73) < 0.02  # the ground, 1.73 m below the sensor


def test_labelled_objects_hold_their_points_and_occlude():
    points, boxes, names = make_sweep(np.random.default_rng(1))
    xyz, boxes_t = torch.from_numpy(points[:, :3]), torch.from_numpy(boxes)
    assert (count_points_in_boxes(xyz, boxes_t) >= 5).all()
    # Occlusion: behind the nearest car (same azimuths, farther away) the ground is hidden.
    car = min((b for b, n in zip(boxes, names) if n == "Car"), key=lambda b: math.hypot(b[0], b[1]))
    behind = car.copy()
    scale = 1.0 + 3.0 / math.hypot(car[0], car[1])  # move 3 m further along the same ray
    behind[0], behind[1], behind[2] = car[0] * scale, car[1] * scale, -1.73 + 0.1
    behind[5] = 0.3
    assert int(points_in_boxes(xyz, torch.from_numpy(behind[None]))[:, 0].sum()) < 5


def test_items_batch_like_detection_data_sets():
    data = SyntheticLidar("train", frames=2, sensor=SMALL, cache_dir=False, progress=False)
    item = data[1]
    assert item["boxes"].shape == (len(item["names"]), 7) and item["frame_id"] == "train-000001"
    batch = collate_scenes([data[0], data[1]])
    assert batch["points"].shape[1] == 4 and batch["boxes"].shape[0] == 2
