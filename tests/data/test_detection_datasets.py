import json
import os
import shutil

import numpy as np
import pytest
import torch

from geo3d.data.collate import collate_scenes
from geo3d.data.datasets import KittiDetection, PointCloudBoxesFolder


def test_kitti_training_folder_and_split_files(shared_data, tmp_path):
    training = os.path.join(shared_data, "kitti", "training")
    data = KittiDetection(training, split=None, classes=("Car", "Pedestrian", "Cyclist", "Truck"))
    assert data.frames == ["000000", "000001", "000002", "000003"]
    item = data[1]
    assert item["points"].shape[1] == 4 and item["boxes"].shape == (len(item["names"]), 7)
    assert (
        set(item["names"]) <= {"Car", "Pedestrian", "Cyclist", "Truck"} and "Truck" in item["names"]
    )
    batch = collate_scenes([data[i] for i in range(4)])
    assert batch["batch"].max() == 3 and batch["boxes"].shape[0] == 4
    # The official layout: root/ImageSets/train.txt + root/training/...
    root = tmp_path / "kitti"
    (root / "ImageSets").mkdir(parents=True)
    (root / "ImageSets" / "train.txt").write_text("000002\n000003\n")
    os.symlink(training, root / "training")
    train = KittiDetection(root, "train")
    assert len(train) == 2 and train[0]["frame_id"] == "000002"
    assert torch.equal(train[1]["points"], data[3]["points"])
    with pytest.raises(ValueError, match="ImageSets/val.txt"):
        KittiDetection(root, "val")


def test_generic_folder_round_trip_and_errors(tmp_path):
    points = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    points.tofile(tmp_path / "a.bin")
    meta = {
        "classes": ["car", "sign"],
        "frames": [{"cloud": "a.bin", "boxes": [[0, 0, 0, 1, 1, 1, 0]], "labels": ["sign"]}],
    }
    (tmp_path / "boxes.json").write_text(json.dumps(meta))
    item = PointCloudBoxesFolder(tmp_path)[0]
    assert torch.equal(item["points"], torch.from_numpy(points)) and item[
        "box_labels"
    ].tolist() == [1]
    meta["frames"][0]["labels"] = ["tree"]
    (tmp_path / "boxes.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="tree"):
        PointCloudBoxesFolder(tmp_path)
    (tmp_path / "boxes.json").write_text("{not json")
    with pytest.raises(ValueError, match="boxes.json"):
        PointCloudBoxesFolder(tmp_path)


def test_bad_frame_is_skipped_on_request(shared_data, tmp_path):
    velodyne = tmp_path / "velodyne"
    velodyne.mkdir()
    for name in ("label_2", "calib", "image_2"):
        shutil.copytree(os.path.join(shared_data, "kitti", "training", name), tmp_path / name)
    shutil.copy(
        os.path.join(shared_data, "kitti", "training", "velodyne", "000000.bin"),
        velodyne / "000000.bin",
    )
    (velodyne / "000001.bin").write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="000001.bin"):
        KittiDetection(tmp_path, split=None)[1]
    lenient = KittiDetection(tmp_path, split=None, skip_bad_files=True)
    with pytest.warns(RuntimeWarning, match="000001.bin"):
        assert lenient[1]["frame_id"] == "000000"
