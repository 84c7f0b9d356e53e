"""Augmentations and preprocessing for point clouds and LiDAR scenes.

Every transform takes a sample dict and a ``torch.Generator`` and returns a new dict
(the input is never modified). Keys used: ``points (N, C)`` with x, y, z first,
``normals (N, 3)`` (optional, rotated and flipped with the points), ``boxes (M, 7)`` in
the LiDAR convention of :mod:`geo3d.structures.boxes` (optional, moved with the points),
and any other keys, passed through. Defaults follow the references named per class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from geo3d.structures.boxes import rotate_points_z
from geo3d.structures.voxels import points_in_range

Sample = dict


def _uniform(generator: torch.Generator, low: float, high: float, size=()) -> torch.Tensor:
    return torch.rand(size, generator=generator, dtype=torch.float64) * (high - low) + low


def _with(sample: Sample, **changes) -> Sample:
    out = dict(sample)
    out.update(changes)
    return out


def _rows(sample: Sample, keep: torch.Tensor) -> Sample:
    """Select the same rows of every per-point tensor (those with N rows)."""
    count = sample["points"].shape[0]
    return {
        key: value[keep]
        if isinstance(value, torch.Tensor)
        and value.dim() >= 1
        and value.shape[0] == count
        and key != "boxes"
        else value
        for key, value in sample.items()
    }


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, generator)
        return sample


class NormalizeUnitSphere:
    """Centre the points on their mean and scale the farthest to radius 1 (PointNet's ModelNet)."""

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        points = sample["points"].clone()
        xyz = points[:, :3] - points[:, :3].mean(0)
        points[:, :3] = xyz / xyz.norm(dim=1).max().clamp(min=1e-12)
        return _with(sample, points=points)


@dataclass
class SampleOrPad:
    """Exactly ``num_points`` rows: a random subset, or every row plus random repeats."""

    num_points: int

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        count = sample["points"].shape[0]
        if count == 0:
            raise ValueError("SampleOrPad: the cloud is empty")
        if count >= self.num_points:
            keep = torch.randperm(count, generator=generator)[: self.num_points]
        else:
            extra = torch.randint(0, count, (self.num_points - count,), generator=generator)
            keep = torch.cat([torch.arange(count), extra])
        return _rows(sample, keep)


def _rotate(sample: Sample, rotation: torch.Tensor) -> Sample:
    """Apply a (3, 3) rotation to points, normals; boxes only for rotations about z."""
    points = sample["points"].clone()
    rotation = rotation.to(points.dtype)
    points[:, :3] = points[:, :3] @ rotation.T
    changes = {"points": points}
    if "normals" in sample:
        changes["normals"] = sample["normals"] @ rotation.T.to(sample["normals"].dtype)
    return _with(sample, **changes)


@dataclass
class RandomRotation:
    """Rotation about z by U(-max_angle, max_angle), or a uniform random rotation (``so3``)."""

    max_angle: float = math.pi
    so3: bool = False

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        if self.so3:
            q = torch.randn(4, generator=generator, dtype=torch.float64)
            w, x, y, z = q / q.norm()
            rotation = torch.stack(
                [
                    torch.stack(
                        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)]
                    ),
                    torch.stack(
                        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)]
                    ),
                    torch.stack(
                        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]
                    ),
                ]
            )
            if "boxes" in sample:
                raise ValueError("RandomRotation(so3=True) cannot rotate yaw-only boxes")
            return _rotate(sample, rotation)
        angle = float(_uniform(generator, -self.max_angle, self.max_angle))
        c, s = math.cos(angle), math.sin(angle)
        out = _rotate(sample, torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]))
        if "boxes" in sample:
            boxes = sample["boxes"].clone()
            boxes[:, :3] = rotate_points_z(boxes[:, :3], torch.tensor(angle, dtype=boxes.dtype))
            boxes[:, 6] = boxes[:, 6] + angle
            out["boxes"] = boxes
        return out


@dataclass
class RandomScale:
    """Scale by U(low, high): one factor for all axes, or one per axis (``anisotropic``).

    Point-PN's ModelNet setting is anisotropic U(2/3, 3/2); OpenPCDet's global scaling of
    LiDAR scenes is isotropic U(0.95, 1.05). Boxes need an isotropic scale.
    """

    low: float = 2 / 3
    high: float = 3 / 2
    anisotropic: bool = True

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        size = (3,) if self.anisotropic else (1,)
        factor = _uniform(generator, self.low, self.high, size).to(sample["points"].dtype)
        points = sample["points"].clone()
        points[:, :3] = points[:, :3] * factor
        changes = {"points": points}
        if "normals" in sample and self.anisotropic:  # normals transform by the inverse
            normals = sample["normals"] / factor.to(sample["normals"].dtype)
            changes["normals"] = normals / normals.norm(dim=1, keepdim=True).clamp(min=1e-12)
        if "boxes" in sample:
            if self.anisotropic:
                raise ValueError("RandomScale(anisotropic=True) would shear rotated boxes")
            boxes = sample["boxes"].clone()
            boxes[:, :6] = boxes[:, :6] * factor.to(boxes.dtype)
            changes["boxes"] = boxes
        return _with(sample, **changes)


@dataclass
class RandomTranslate:
    """Shift every point by U(-shift, shift) per axis (Point-PN: 0.2)."""

    shift: float = 0.2

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        offset = _uniform(generator, -self.shift, self.shift, (3,)).to(sample["points"].dtype)
        points = sample["points"].clone()
        points[:, :3] = points[:, :3] + offset
        changes = {"points": points}
        if "boxes" in sample:
            boxes = sample["boxes"].clone()
            boxes[:, :3] = boxes[:, :3] + offset.to(boxes.dtype)
            changes["boxes"] = boxes
        return _with(sample, **changes)


@dataclass
class Jitter:
    """Gaussian noise of std ``sigma`` clipped to ``clip`` per coordinate (PointNet: 0.01, 0.05)."""

    sigma: float = 0.01
    clip: float = 0.05

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        points = sample["points"].clone()
        noise = torch.randn(points.shape[0], 3, generator=generator, dtype=points.dtype)
        points[:, :3] = points[:, :3] + (self.sigma * noise).clamp(-self.clip, self.clip)
        return _with(sample, points=points)


@dataclass
class RandomDropout:
    """Drop a random fraction U(0, max_ratio) of the points, replacing them by the first
    point so the count is unchanged (PointNet++'s ``random_point_dropout``, 0.875)."""

    max_ratio: float = 0.875

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        count = sample["points"].shape[0]
        ratio = float(_uniform(generator, 0, self.max_ratio))
        drop = torch.rand(count, generator=generator, dtype=torch.float64) <= ratio
        keep = torch.where(drop, torch.zeros_like(drop, dtype=torch.long), torch.arange(count))
        return _rows(sample, keep)


@dataclass
class RandomFlip:
    """Mirror with probability 0.5 per axis: ``"y"`` negates y (OpenPCDet's flip along x),
    ``"x"`` negates x; boxes' headings follow."""

    axes: tuple[str, ...] = ("y",)

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        out = sample
        for axis in self.axes:
            if float(torch.rand((), generator=generator)) >= 0.5:
                continue
            column = {"x": 0, "y": 1}[axis]
            points = out["points"].clone()
            points[:, column] = -points[:, column]
            changes = {"points": points}
            if "normals" in out:
                normals = out["normals"].clone()
                normals[:, column] = -normals[:, column]
                changes["normals"] = normals
            if "boxes" in out:
                boxes = out["boxes"].clone()
                boxes[:, column] = -boxes[:, column]
                boxes[:, 6] = -boxes[:, 6] if axis == "y" else math.pi - boxes[:, 6]
                changes["boxes"] = boxes
            out = _with(out, **changes)
        return out


@dataclass
class PointRangeFilter:
    """Keep points inside ``[xmin, ymin, zmin, xmax, ymax, zmax)`` and boxes whose centre is."""

    point_range: tuple[float, float, float, float, float, float]

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        out = _rows(sample, points_in_range(sample["points"][:, :3], self.point_range))
        if "boxes" in sample:
            inside = points_in_range(sample["boxes"][:, :3], self.point_range)
            out["boxes"] = sample["boxes"][inside]
            for key in ("box_labels", "box_names"):
                if key in sample:
                    values = sample[key]
                    out[key] = (
                        values[inside]
                        if isinstance(values, torch.Tensor)
                        else [v for v, k in zip(values, inside.tolist()) if k]
                    )
        return out


class ShufflePoints:
    """Random order of the points (and of every per-point tensor with them)."""

    def __call__(self, sample: Sample, generator: torch.Generator) -> Sample:
        return _rows(sample, torch.randperm(sample["points"].shape[0], generator=generator))
