"""The KITTI object-detection layout: calibration, labels, and camera-to-LiDAR boxes.

Labels are in the rectified camera frame: ``h, w, l`` and the bottom centre ``x, y, z``,
``rotation_y`` around the camera y axis (KITTI devkit, readme.txt). LiDAR boxes follow
:mod:`geo3d.structures.boxes`: centre, ``(dx, dy, dz) = (l, w, h)``,
``heading = -(rotation_y + pi / 2)`` (OpenPCDet's ``boxes3d_kitti_camera_to_lidar``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class KittiCalibration:
    """One frame's calibration: ``P2 (3, 4)``, ``R0_rect (3, 3)``, ``Tr_velo_to_cam (3, 4)``."""

    P2: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray

    def rect_to_lidar(self, points: np.ndarray) -> np.ndarray:
        """Rectified camera coordinates ``(N, 3)`` to LiDAR coordinates ``(N, 3)``."""
        rect = np.eye(4)
        rect[:3, :3] = self.R0_rect
        velo_to_cam = np.eye(4)
        velo_to_cam[:3, :] = self.Tr_velo_to_cam
        homogeneous = np.hstack([points, np.ones((points.shape[0], 1))])
        return (homogeneous @ np.linalg.inv(rect @ velo_to_cam).T)[:, :3]

    def lidar_to_rect(self, points: np.ndarray) -> np.ndarray:
        """LiDAR coordinates ``(N, 3)`` to rectified camera coordinates ``(N, 3)``."""
        homogeneous = np.hstack([points, np.ones((points.shape[0], 1))])
        return (homogeneous @ self.Tr_velo_to_cam.T) @ self.R0_rect.T


@dataclass(frozen=True)
class KittiObject:
    """One line of a KITTI ``label_2`` file."""

    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]  # left, top, right, bottom in image pixels
    dimensions: tuple[float, float, float]  # h, w, l in metres
    location: tuple[float, float, float]  # bottom centre x, y, z in the rectified camera frame
    rotation_y: float
    score: float | None = None


def _matrix(values: list[float], rows: int, cols: int, path: str, key: str) -> np.ndarray:
    if len(values) != rows * cols:
        raise ValueError(f"{path}: '{key}' needs {rows * cols} values, got {len(values)}")
    return np.asarray(values, dtype=np.float64).reshape(rows, cols)


def read_kitti_calibration(path: str | os.PathLike) -> KittiCalibration:
    """Read ``calib/XXXXXX.txt`` (``key: values`` lines; ``R0_rect`` and ``Tr_velo_to_cam``
    needed)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such KITTI calibration file")
    entries: dict[str, list[float]] = {}
    for number, line in enumerate(_text_lines(path, "KITTI calibration"), start=1):
        if not line.strip():
            continue
        key, sep, rest = line.partition(":")
        if not sep:
            raise ValueError(f"{path}:{number}: expected 'key: values', got {line.strip()!r}")
        try:
            entries[key.strip()] = [float(v) for v in rest.split()]
        except ValueError:
            raise ValueError(f"{path}:{number}: non-numeric values for '{key.strip()}'") from None
        if not all(math.isfinite(v) for v in entries[key.strip()]):
            raise ValueError(f"{path}:{number}: NaN or inf in '{key.strip()}'")
    for key in ("P2", "R0_rect", "Tr_velo_to_cam"):
        if key not in entries:
            raise ValueError(f"{path}: missing '{key}'")
    calibration = KittiCalibration(
        P2=_matrix(entries["P2"], 3, 4, path, "P2"),
        R0_rect=_matrix(entries["R0_rect"], 3, 3, path, "R0_rect"),
        Tr_velo_to_cam=_matrix(entries["Tr_velo_to_cam"], 3, 4, path, "Tr_velo_to_cam"),
    )
    rect = np.eye(4)
    rect[:3, :3] = calibration.R0_rect
    velo_to_cam = np.eye(4)
    velo_to_cam[:3, :] = calibration.Tr_velo_to_cam
    # rect_to_lidar inverts R0_rect @ Tr_velo_to_cam: a singular one is a corrupt file
    if np.linalg.cond(rect @ velo_to_cam) > 1e12:
        raise ValueError(f"{path}: 'R0_rect' @ 'Tr_velo_to_cam' is singular (not invertible)")
    return calibration


def _text_lines(path: str, what: str) -> list[str]:
    """The lines of a text file; a binary file is a ValueError naming it."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (a {what} file is text)") from None


LABEL_FIELDS = (
    "truncated",
    "occluded",
    "alpha",
    "bbox_left",
    "bbox_top",
    "bbox_right",
    "bbox_bottom",
    "height",
    "width",
    "length",
    "x",
    "y",
    "z",
    "rotation_y",
    "score",
)


def read_kitti_labels(path: str | os.PathLike) -> list[KittiObject]:
    """Read ``label_2/XXXXXX.txt``: 15 fields per object (16 with a detection score)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such KITTI label file")
    objects = []
    for number, line in enumerate(_text_lines(path, "KITTI label"), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (15, 16):
            raise ValueError(f"{path}:{number}: expected 15 or 16 fields, got {len(fields)}")
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise ValueError(f"{path}:{number}: non-numeric field in {line.strip()!r}") from None
        for name, value in zip(LABEL_FIELDS, values):
            if not math.isfinite(value):
                raise ValueError(f"{path}:{number}: field '{name}' is {value} ({fields[0]})")
        # DontCare regions carry -1 sizes by convention; a real object needs positive ones
        if fields[0] != "DontCare" and min(values[7:10]) <= 0:
            raise ValueError(
                f"{path}:{number}: {fields[0]} has non-positive size "
                f"(height, width, length) = {tuple(values[7:10])}"
            )
        objects.append(
            KittiObject(
                type=fields[0],
                truncated=values[0],
                occluded=int(values[1]),
                alpha=values[2],
                bbox=tuple(values[3:7]),
                dimensions=tuple(values[7:10]),
                location=tuple(values[10:13]),
                rotation_y=values[13],
                score=values[14] if len(values) == 15 else None,
            )
        )
    return objects


def kitti_objects_to_lidar_boxes(
    objects: list[KittiObject], calibration: KittiCalibration, skip_dont_care: bool = True
) -> tuple[torch.Tensor, list[str]]:
    """Camera-frame labels to LiDAR boxes ``(M, 7)`` float32 and their class names.

    The location is the bottom centre in the camera frame: converted to the LiDAR frame,
    then raised by ``h / 2`` to the box centre. ``DontCare`` regions are skipped by default.
    """
    kept = [o for o in objects if not (skip_dont_care and o.type == "DontCare")]
    if not kept:
        return torch.zeros(0, 7), []
    location = np.array([o.location for o in kept], dtype=np.float64)
    h, w, l = (np.array([o.dimensions[i] for o in kept]) for i in range(3))  # noqa: E741
    rotation_y = np.array([o.rotation_y for o in kept])
    centre = calibration.rect_to_lidar(location)
    centre[:, 2] += h / 2
    heading = -(rotation_y + math.pi / 2)
    boxes = np.column_stack([centre, l, w, h, heading])
    return torch.from_numpy(boxes.astype(np.float32)), [o.type for o in kept]
