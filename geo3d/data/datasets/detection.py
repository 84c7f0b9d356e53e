"""LiDAR detection data sets: KITTI's object layout and a generic folder + JSON of boxes.

Items are dicts: ``points (N, C)`` float32 (x, y, z, then the file's features),
``boxes (M, 7)`` float32 LiDAR boxes (see :mod:`geo3d.structures.boxes`),
``box_labels (M,)`` int64 indices into ``classes``, ``names`` and ``frame_id``; they
batch with :func:`geo3d.data.collate.collate_scenes`.
"""

from __future__ import annotations

import json
import os
import warnings

import torch

from geo3d.data.datasets.base import SkippingDataset
from geo3d.data.io.kitti import (
    KITTI_IMAGE_SHAPE,
    KittiFrame,
    camera_field_of_view,
    kitti_objects_to_anno,
    kitti_objects_to_lidar_boxes,
    read_image_shape,
    read_kitti_calibration,
    read_kitti_labels,
)
from geo3d.data.io.points import read_points

KITTI_CLASSES = ("Car", "Pedestrian", "Cyclist")


def _scene(cloud: dict, boxes: torch.Tensor, names: list[str], classes, frame_id: str) -> dict:
    features = [cloud["xyz"]] + [cloud[k][:, None] for k in ("intensity", "ring") if k in cloud]
    keep = [i for i, name in enumerate(names) if name in classes]
    return {
        "points": torch.cat(features, dim=1),
        "boxes": boxes[keep].float().reshape(-1, 7),
        "box_labels": torch.tensor([classes.index(names[i]) for i in keep], dtype=torch.int64),
        "names": [names[i] for i in keep],
        "frame_id": frame_id,
    }


class KittiDetection(SkippingDataset):
    """KITTI object detection: ``root/training/{velodyne,label_2,calib}`` (or ``testing``)
    and ``root/ImageSets/<split>.txt``.

    ``split`` names an ImageSets file (``train``, ``val``, ``trainval``, ``test``); with
    ``split=None`` every velodyne frame of ``root`` itself is used (``root`` then is the
    ``training`` folder). Labels of classes outside ``classes`` (and DontCare) are dropped
    from the LiDAR boxes.

    ``fov_only`` (default, as OpenPCDet's ``FOV_POINTS_ONLY``) keeps the points the left
    colour camera sees: KITTI labels only objects in the image, so points elsewhere carry
    no labels. Items also hold ``kitti``, a :class:`geo3d.data.io.KittiFrame` (calibration,
    image size, every label as an annotation dict) for KITTI's official evaluation. The
    image size comes from ``image_2/<frame>.png``'s header; without the images it is
    KITTI's commonest, 375 x 1242 (a warning says so once).
    """

    def __init__(
        self,
        root,
        split: str | None = "train",
        classes=KITTI_CLASSES,
        skip_bad_files=False,
        fov_only: bool = True,
    ):
        root = os.fspath(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: no such KITTI folder")
        if split is None:
            self.folder = root
            velodyne = os.path.join(root, "velodyne")
            if not os.path.isdir(velodyne):
                raise ValueError(f"{root}: not a KITTI training folder (no velodyne/ inside)")
            self.frames = sorted(f[:-4] for f in os.listdir(velodyne) if f.endswith(".bin"))
        else:
            listing = os.path.join(root, "ImageSets", f"{split}.txt")
            if not os.path.isfile(listing):
                raise ValueError(f"{root}: no ImageSets/{split}.txt (the KITTI split files)")
            self.folder = os.path.join(root, "testing" if split == "test" else "training")
            with open(listing) as handle:
                self.frames = [line.strip() for line in handle if line.strip()]
        if not self.frames:
            raise ValueError(f"{root}: no frames in split {split!r}")
        self.classes = list(classes)
        self.has_labels = os.path.isdir(os.path.join(self.folder, "label_2"))
        self.skip_bad_files = skip_bad_files
        self.fov_only = fov_only
        self._warned_image = False

    def __len__(self) -> int:
        return len(self.frames)

    def _image_shape(self, frame: str) -> tuple[int, int]:
        path = os.path.join(self.folder, "image_2", f"{frame}.png")
        if os.path.isfile(path):
            return read_image_shape(path)
        if not self._warned_image:
            self._warned_image = True
            warnings.warn(
                f"{path}: no left image; taking KITTI's usual {KITTI_IMAGE_SHAPE[0]} x "
                f"{KITTI_IMAGE_SHAPE[1]} for the camera's field of view and 2D boxes",
                RuntimeWarning,
                stacklevel=3,
            )
        return KITTI_IMAGE_SHAPE

    def _load(self, index: int) -> dict:
        frame = self.frames[index]
        cloud = read_points(os.path.join(self.folder, "velodyne", f"{frame}.bin"))
        calibration = read_kitti_calibration(os.path.join(self.folder, "calib", f"{frame}.txt"))
        image_shape = self._image_shape(frame)
        if self.fov_only:
            seen = torch.from_numpy(
                camera_field_of_view(cloud["xyz"].numpy(), calibration, image_shape)
            )
            cloud = {k: v[seen] for k, v in cloud.items()}
        if not self.has_labels:
            item = _scene(cloud, torch.zeros(0, 7), [], self.classes, frame)
            item["kitti"] = KittiFrame(calibration, image_shape, frame_id=frame)
            return item
        objects = read_kitti_labels(os.path.join(self.folder, "label_2", f"{frame}.txt"))
        boxes, names = kitti_objects_to_lidar_boxes(objects, calibration)
        item = _scene(cloud, boxes, names, self.classes, frame)
        item["kitti"] = KittiFrame(calibration, image_shape, kitti_objects_to_anno(objects), frame)
        return item


class PointCloudBoxesFolder(SkippingDataset):
    """Users' own data: point files (any :func:`read_points` format) and one JSON of boxes.

    The JSON: ``{"classes": [...], "frames": [{"cloud": "relative/path.bin",
    "boxes": [[x, y, z, dx, dy, dz, heading], ...], "labels": ["car", ...]}, ...]}``,
    boxes in the LiDAR convention (z at the box centre).
    """

    def __init__(self, root, annotations: str = "boxes.json", skip_bad_files=False):
        root = os.fspath(root)
        path = os.path.join(root, annotations)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no annotation file")
        try:
            with open(path) as handle:
                meta = json.load(handle)
            self.classes = list(meta["classes"])
            self.records = list(meta["frames"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path}: expected {{'classes': [...], 'frames': [...]}} ({error})"
            ) from None
        for number, record in enumerate(self.records):
            boxes, labels = record.get("boxes", []), record.get("labels", [])
            if "cloud" not in record or len(boxes) != len(labels):
                raise ValueError(
                    f"{path}: frame {number} needs 'cloud' and as many 'labels' as 'boxes'"
                )
            if any(len(box) != 7 for box in boxes):
                raise ValueError(f"{path}: frame {number} has a box without 7 values")
            unknown = set(labels) - set(self.classes)
            if unknown:
                raise ValueError(
                    f"{path}: frame {number} has labels {sorted(unknown)} not in 'classes'"
                )
        self.root = root
        self.skip_bad_files = skip_bad_files

    def __len__(self) -> int:
        return len(self.records)

    def _load(self, index: int) -> dict:
        record = self.records[index]
        cloud = read_points(os.path.join(self.root, record["cloud"]))
        boxes = torch.tensor(record.get("boxes", []), dtype=torch.float32).reshape(-1, 7)
        return _scene(cloud, boxes, list(record.get("labels", [])), self.classes, record["cloud"])
