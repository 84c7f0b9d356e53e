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

    def rect_to_image(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rectified camera coordinates ``(N, 3)`` to left-colour-image pixels ``(N, 2)``
        (``u`` right, ``v`` down) through ``P2``, and each point's depth ``(N,)`` in that
        camera (OpenPCDet's ``Calibration.rect_to_img``)."""
        homogeneous = np.hstack([points, np.ones((points.shape[0], 1))]) @ self.P2.T
        depth = homogeneous[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            pixels = homogeneous[:, :2] / depth[:, None]
        return pixels, depth - self.P2[2, 3]


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


@dataclass(frozen=True)
class KittiFrame:
    """What the official evaluation needs of a frame besides its LiDAR boxes: the
    calibration, the left image's ``(height, width)``, the frame's labels as an
    annotation dict (:func:`kitti_objects_to_anno`; ``None`` for unlabelled frames) and
    its name (``000042``), which names its file of predictions."""

    calibration: KittiCalibration
    image_shape: tuple[int, int]
    anno: dict | None = None
    frame_id: str = ""


KITTI_IMAGE_SHAPE = (375, 1242)  # (height, width): the commonest left-image size
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of a PNG from its header, without decoding the pixels."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such image")
    with open(path, "rb") as handle:
        header = handle.read(24)
    if len(header) < 24 or header[:8] != PNG_SIGNATURE or header[12:16] != b"IHDR":
        raise ValueError(f"{path}: not a PNG image (no PNG signature and IHDR header)")
    width, height = int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")
    if width == 0 or height == 0:
        raise ValueError(f"{path}: PNG header says {width} x {height} pixels")
    return height, width


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


def camera_field_of_view(
    points: np.ndarray, calibration: KittiCalibration, image_shape: tuple[int, int]
) -> np.ndarray:
    """Which LiDAR points ``(N, 3+)`` the left colour camera sees: in front of it and
    projecting inside the ``(height, width)`` image, ``(N,)`` bool (OpenPCDet's
    ``get_fov_flag``, used with ``FOV_POINTS_ONLY``: KITTI labels only what the camera sees)."""
    pixels, depth = calibration.rect_to_image(calibration.lidar_to_rect(points[:, :3]))
    height, width = image_shape
    return (
        (depth >= 0)
        & (pixels[:, 0] >= 0)
        & (pixels[:, 0] < width)
        & (pixels[:, 1] >= 0)
        & (pixels[:, 1] < height)
    )


def kitti_objects_to_anno(objects: list[KittiObject]) -> dict[str, np.ndarray]:
    """Labels as the annotation dict :func:`geo3d.metrics.kitti_eval` reads (every object,
    DontCare included): ``name``, ``truncated``, ``occluded``, ``alpha``, ``bbox (n, 4)``,
    ``dimensions (n, 3)`` as ``(l, h, w)`` (OpenPCDet's order), ``location (n, 3)``,
    ``rotation_y``, and ``score`` where the file has one."""
    anno = {
        "name": np.array([o.type for o in objects], dtype=str),
        "truncated": np.array([o.truncated for o in objects], dtype=np.float64),
        "occluded": np.array([o.occluded for o in objects], dtype=np.int64),
        "alpha": np.array([o.alpha for o in objects], dtype=np.float64),
        "bbox": np.array([o.bbox for o in objects], dtype=np.float64).reshape(-1, 4),
        "dimensions": np.array(
            [(o.dimensions[2], o.dimensions[0], o.dimensions[1]) for o in objects],
            dtype=np.float64,
        ).reshape(-1, 3),
        "location": np.array([o.location for o in objects], dtype=np.float64).reshape(-1, 3),
        "rotation_y": np.array([o.rotation_y for o in objects], dtype=np.float64),
    }
    if objects and all(o.score is not None for o in objects):
        anno["score"] = np.array([o.score for o in objects], dtype=np.float64)
    return anno


def _camera_corners(location: np.ndarray, lhw: np.ndarray, rotation_y: np.ndarray) -> np.ndarray:
    """The 8 corners ``(n, 8, 3)`` of camera-frame boxes (bottom centre ``location``, ``l``
    along x and ``w`` along z before the rotation about y, ``h`` up, i.e. towards -y)."""
    unit = np.array(
        [[x, y, z] for x in (0.5, -0.5) for y in (0.0, -1.0) for z in (0.5, -0.5)], np.float64
    )
    corners = unit[None] * lhw[:, None, :]
    cos, sin = np.cos(rotation_y)[:, None], np.sin(rotation_y)[:, None]
    x, y, z = corners[..., 0], corners[..., 1], corners[..., 2]
    rotated = np.stack([cos * x + sin * z, y, -sin * x + cos * z], axis=-1)
    return rotated + location[:, None, :]


def lidar_boxes_to_kitti_anno(
    boxes,
    names: list[str],
    scores,
    calibration: KittiCalibration,
    image_shape: tuple[int, int] | None,
) -> dict[str, np.ndarray]:
    """Detections in the LiDAR frame, ``boxes (n, 7)`` with ``scores (n,)``, as a KITTI
    annotation dict in the camera frame, as OpenPCDet's ``generate_prediction_dicts``
    makes them for the official evaluation: ``rotation_y = -heading - pi / 2``, the
    location lowered by ``h / 2`` to the bottom centre, ``bbox`` the image rectangle around
    the projected corners clipped to the image (``image_shape`` ``(height, width)``; not
    clipped with ``None``), ``alpha = rotation_y - atan2(y, x)`` (LiDAR x, y: the viewing
    angle correction), truncation and occlusion 0."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(names) != boxes.shape[0] or scores.shape[0] != boxes.shape[0]:
        raise ValueError(f"{boxes.shape[0]} boxes, {len(names)} names, {scores.shape[0]} scores")
    bottom = boxes[:, :3].copy()
    bottom[:, 2] -= boxes[:, 5] / 2
    location = calibration.lidar_to_rect(bottom)
    lhw = boxes[:, [3, 5, 4]]
    rotation_y = -boxes[:, 6] - np.pi / 2
    corners = _camera_corners(location, lhw, rotation_y)
    pixels, _ = calibration.rect_to_image(corners.reshape(-1, 3))
    pixels = pixels.reshape(-1, 8, 2)
    bbox = np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=1).reshape(-1, 4)
    if image_shape is not None:
        height, width = image_shape
        bbox[:, [0, 2]] = np.clip(bbox[:, [0, 2]], 0, width - 1)
        bbox[:, [1, 3]] = np.clip(bbox[:, [1, 3]], 0, height - 1)
    return {
        "name": np.array(list(names), dtype=str),
        "truncated": np.zeros(len(names)),
        "occluded": np.zeros(len(names), dtype=np.int64),
        "alpha": rotation_y + np.arctan2(boxes[:, 1], boxes[:, 0]),
        "bbox": bbox,
        "dimensions": lhw,
        "location": location,
        "rotation_y": rotation_y,
        "score": scores,
    }


def write_kitti_labels(path: str | os.PathLike, anno: dict) -> None:
    """One frame's annotation dict as a ``label_2``-style text file (the official devkit's
    and test server's format: 15 fields, 16 with ``score``; ``dimensions`` given as
    ``(l, h, w)`` are written as ``h w l``)."""
    lines = []
    scores = anno.get("score")
    for i, name in enumerate(anno["name"]):
        l, h, w = anno["dimensions"][i]  # noqa: E741
        fields = [
            str(name),
            f"{float(anno['truncated'][i]):.2f}",
            str(int(anno["occluded"][i])),
            f"{float(anno['alpha'][i]):.4f}",
            *(f"{float(v):.4f}" for v in anno["bbox"][i]),
            *(f"{float(v):.4f}" for v in (h, w, l)),
            *(f"{float(v):.4f}" for v in anno["location"][i]),
            f"{float(anno['rotation_y'][i]):.4f}",
        ]
        if scores is not None:
            fields.append(f"{float(scores[i]):.4f}")
        lines.append(" ".join(fields))
    with open(path, "w") as handle:
        handle.write("".join(line + "\n" for line in lines))
