import json
import math
import os

import numpy as np
import pytest
import torch

from geo3d.data.io import (
    kitti_objects_to_lidar_boxes,
    read_kitti_calibration,
    read_kitti_labels,
    read_points,
)
from geo3d.structures import count_points_in_boxes, points_in_boxes


def kitti_frame(shared_data, frame):
    root = os.path.join(shared_data, "kitti", "training")
    cloud = read_points(os.path.join(root, "velodyne", f"{frame}.bin"))
    calibration = read_kitti_calibration(os.path.join(root, "calib", f"{frame}.txt"))
    objects = read_kitti_labels(os.path.join(root, "label_2", f"{frame}.txt"))
    return cloud, calibration, objects


@pytest.mark.parametrize("frame", ["000000", "000001", "000002", "000003"])
def test_kitti_boxes_in_lidar_frame_contain_their_objects(shared_data, frame):
    cloud, calibration, objects = kitti_frame(shared_data, frame)
    boxes, names = kitti_objects_to_lidar_boxes(objects, calibration)
    assert boxes.shape == (len(names), 7) and "DontCare" not in names
    xyz = cloud["xyz"]
    kept = [o for o in objects if o.type != "DontCare"]
    for box, name, obj in zip(boxes, names, kept):
        inside = points_in_boxes(xyz, box[None])[:, 0]
        assert int(inside.sum()) >= 5, f"{frame} {name}: {int(inside.sum())} points in its box"
        # Independent check through the camera: the points in the 3D box project into the
        # object's 2D image box (a few pixels of margin for the box edges).
        rect = calibration.lidar_to_rect(xyz[inside].double().numpy())
        uvw = np.hstack([rect, np.ones((rect.shape[0], 1))]) @ calibration.P2.T
        u, v = uvw[:, 0] / uvw[:, 2], uvw[:, 1] / uvw[:, 2]
        left, top, right, bottom = obj.bbox
        in_image_box = (u > left - 8) & (u < right + 8) & (v > top - 8) & (v < bottom + 8)
        assert in_image_box.mean() >= 0.95, (
            f"{frame} {name}: {in_image_box.mean():.2f} project into its 2D box"
        )
        # Well-seen objects fill their box from the ground up: z at the centre, not the bottom.
        if int(inside.sum()) >= 50:
            height = (xyz[inside, 2] - (box[2] - box[5] / 2)) / box[5]
            assert float(height.min()) < 0.15 and float(height.max()) > 0.8, f"{frame} {name}"
        # A box grown by 10 % along each axis gains few points: it is tight around the object.
        grown = box.clone()
        grown[3:6] *= 1.1
        assert int(points_in_boxes(xyz, grown[None]).sum()) <= 1.5 * int(inside.sum()) + 10


def test_kitti_conversion_round_trip_and_heading(shared_data):
    _, calibration, objects = kitti_frame(shared_data, "000000")
    boxes, _ = kitti_objects_to_lidar_boxes(objects, calibration)
    bottom = boxes[:, :3].double().numpy().copy()
    bottom[:, 2] -= boxes[:, 5].double().numpy() / 2
    back = calibration.lidar_to_rect(bottom)
    expected = np.array([o.location for o in objects if o.type != "DontCare"])
    assert np.allclose(back, expected, atol=1e-4)
    # rotation_y = 0 faces the camera's +x, which is the LiDAR's -y: heading -pi/2.
    assert math.isclose(float(boxes[0, 6]), -(objects[0].rotation_y + math.pi / 2), abs_tol=1e-6)


def test_nuscenes_box_counts_match_annotations(shared_data):
    folder = os.path.join(shared_data, "nuscenes")
    with open(os.path.join(folder, "boxes.json")) as handle:
        meta = json.load(handle)
    cloud = read_points(os.path.join(folder, meta["lidar_file"]))
    assert set(cloud) == {"xyz", "intensity", "ring"}
    records = meta["boxes"]
    boxes = torch.tensor([r["box"] for r in records], dtype=torch.float64)
    counts = count_points_in_boxes(cloud["xyz"].double(), boxes)
    annotated = torch.tensor([r["num_lidar_pts"] for r in records])
    matches = int((counts == annotated).sum())
    assert len(records) == 69 and matches >= 60, f"{matches} of {len(records)} counts match"
