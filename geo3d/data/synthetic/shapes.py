"""``synthetic_shapes``: point-cloud classification on twelve kinds of parametric shape.

Every tool must run on a fresh machine with no data set downloaded; this one is made
from a seed in seconds and cached. It is deliberately not trivial: proportions, pose,
occlusion, noise and point density vary within each class, some classes are near
neighbours (sphere and ellipsoid, chair and table, cylinder and ring, box and L-bracket),
and no single global statistic separates them (a test checks this).

Each sample: one shape built from trimesh primitives with random proportions, its
surface sampled by area (composite shapes drop the points that fall inside another of
their parts), rotated to a random yaw with a tilt of up to ``max_tilt`` radians, cut by a
random plane with probability ``occlusion`` (10-35 % of the points removed, as a single
view would), subsampled to ``num_points``, jittered with Gaussian noise, centred and
scaled into the unit sphere. Normals are the faces' normals, rotated with the points.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from geo3d.data.synthetic.cache import cached

CLASSES = (
    "box",
    "sphere",
    "cylinder",
    "cone",
    "torus",
    "capsule",
    "pyramid",
    "ellipsoid",
    "l_bracket",
    "ring",
    "chair",
    "table",
)
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_PER_CLASS = {"train": 80, "val": 20, "test": 40}


def _box(extents, center=(0.0, 0.0, 0.0)):
    import trimesh

    mesh = trimesh.creation.box(extents=extents)
    mesh.apply_translation(center)
    return mesh


def _parts(name: str, rng: np.random.Generator):
    """The meshes of one shape, and the boxes (center, extents) of composite shapes."""
    import trimesh.creation as create

    u = rng.uniform
    if name == "box":
        return [_box(u(0.3, 1.0, 3))], []
    if name == "sphere":
        return [create.icosphere(subdivisions=3, radius=1.0)], []
    if name == "ellipsoid":
        mesh = create.icosphere(subdivisions=3, radius=1.0)
        axes = np.sort(u(0.35, 1.0, 3))[::-1] * np.array([1.0, 1.0, u(0.5, 0.9)])
        mesh.vertices = mesh.vertices * rng.permutation(axes)
        return [mesh], []
    if name == "cylinder":
        return [create.cylinder(radius=u(0.2, 0.6), height=u(0.6, 1.6), sections=48)], []
    if name == "cone":
        return [create.cone(radius=u(0.3, 0.7), height=u(0.5, 1.5), sections=48)], []
    if name == "torus":
        return [create.torus(major_radius=1.0, minor_radius=u(0.15, 0.45))], []
    if name == "capsule":
        return [create.capsule(height=u(0.4, 1.4), radius=u(0.2, 0.45), count=[24, 24])], []
    if name == "pyramid":
        half, height = u(0.3, 0.6), u(0.5, 1.2)
        corners = [[-half, -half, 0], [half, -half, 0], [half, half, 0], [-half, half, 0]]
        import trimesh

        return [trimesh.Trimesh(corners + [[0, 0, height]]).convex_hull], []
    if name == "ring":
        outer = u(0.6, 1.0)
        inner = outer * u(0.5, 0.85)
        return [create.annulus(r_min=inner, r_max=outer, height=u(0.1, 0.4), sections=64)], []
    if name == "l_bracket":
        length, height, width, thick = u(0.6, 1.2), u(0.5, 1.1), u(0.3, 0.8), u(0.08, 0.2)
        boxes = [
            ((length / 2, 0.0, thick / 2), (length, width, thick)),
            ((thick / 2, 0.0, height / 2), (thick, width, height)),
        ]
        return [_box(e, c) for c, e in boxes], boxes
    if name in ("chair", "table"):
        width, depth = u(0.5, 1.0), u(0.5, 1.0)
        if name == "table":
            width *= u(1.2, 1.8)
        leg_height = u(0.4, 0.6) if name == "chair" else u(0.6, 0.9)
        top, leg = u(0.04, 0.1), u(0.04, 0.09)
        boxes = [((0.0, 0.0, leg_height + top / 2), (width, depth, top))]
        for sx in (-1, 1):
            for sy in (-1, 1):
                center = (sx * (width - leg) / 2, sy * (depth - leg) / 2, leg_height / 2)
                boxes.append((center, (leg, leg, leg_height)))
        if name == "chair":
            back = u(0.4, 0.8)
            boxes.append(
                ((0.0, -(depth - top) / 2, leg_height + top + back / 2), (width, top, back))
            )
        return [_box(e, c) for c, e in boxes], boxes
    raise ValueError(f"unknown shape class {name!r}")


def _inside_other_box(points: np.ndarray, part_of_point: np.ndarray, boxes) -> np.ndarray:
    """Points strictly inside a box part other than their own (hidden inner surface)."""
    hidden = np.zeros(points.shape[0], dtype=bool)
    for index, (center, extents) in enumerate(boxes):
        local = np.abs(points - np.asarray(center)) < np.asarray(extents) / 2 - 1e-6
        hidden |= local.all(axis=1) & (part_of_point != index)
    return hidden


def _sample_parts(meshes, boxes, count: int, rng: np.random.Generator):
    vertices = [np.asarray(m.vertices, dtype=np.float64) for m in meshes]
    faces = [np.asarray(m.faces) for m in meshes]
    triangles = np.concatenate([v[f] for v, f in zip(vertices, faces)])  # (F, 3, 3)
    part = np.concatenate([np.full(len(f), i) for i, f in enumerate(faces)])
    cross = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    area = np.linalg.norm(cross, axis=1)
    face = rng.choice(len(area), size=count, p=area / area.sum())
    r1, r2 = rng.random((2, count, 1))
    flip = (r1 + r2) > 1
    r1, r2 = np.where(flip, 1 - r1, r1), np.where(flip, 1 - r2, r2)
    tri = triangles[face]
    points = tri[:, 0] + r1 * (tri[:, 1] - tri[:, 0]) + r2 * (tri[:, 2] - tri[:, 0])
    normals = cross[face] / np.maximum(area[face, None], 1e-12)
    if boxes:
        keep = ~_inside_other_box(points, part[face], boxes)
        points, normals = points[keep], normals[keep]
    return points, normals


def _rotation(rng: np.random.Generator, max_tilt: float) -> np.ndarray:
    yaw = rng.uniform(0, 2 * math.pi)
    tilt = rng.uniform(0, max_tilt)
    axis_angle = rng.uniform(0, 2 * math.pi)
    axis = np.array([math.cos(axis_angle), math.sin(axis_angle), 0.0])
    c, s = math.cos(yaw), math.sin(yaw)
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt_matrix = np.eye(3) + math.sin(tilt) * k + (1 - math.cos(tilt)) * k @ k  # Rodrigues
    return tilt_matrix @ rz


def make_shape(
    name: str,
    num_points: int,
    rng: np.random.Generator,
    max_tilt: float = 0.5,
    occlusion: float = 0.5,
    noise: tuple[float, float] = (0.002, 0.012),
) -> tuple[np.ndarray, np.ndarray]:
    """One sample of class ``name``: ``points (num_points, 3)`` and ``normals`` float32."""
    meshes, boxes = _parts(name, rng)
    points, normals = _sample_parts(meshes, boxes, 3 * num_points, rng)
    rotation = _rotation(rng, max_tilt)
    points, normals = points @ rotation.T, normals @ rotation.T
    if rng.random() < occlusion:
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        depth = (points - points.mean(0)) @ direction
        keep = depth < np.quantile(depth, 1 - rng.uniform(0.10, 0.35))
        points, normals = points[keep], normals[keep]
    chosen = rng.choice(len(points), size=num_points, replace=len(points) < num_points)
    points, normals = points[chosen], normals[chosen]
    points = points - points.mean(0)
    points /= np.linalg.norm(points, axis=1).max()
    points += rng.normal(scale=rng.uniform(*noise), size=points.shape)
    return points.astype(np.float32), normals.astype(np.float32)


class SyntheticShapes(torch.utils.data.Dataset):
    """The ``synthetic_shapes`` data set (see the module docstring).

    Items are dicts: ``points (num_points, 3)``, ``normals (num_points, 3)`` float32,
    ``label`` int64. The whole split is generated on first use from ``seed`` (bit for bit
    the same on every machine) and cached under ``cache_dir`` (default
    ``$GEO3D_CACHE`` or ``~/.cache/geo3d``); ``cache_dir=False`` keeps it in memory only.
    """

    classes = CLASSES

    def __init__(
        self,
        split: str = "train",
        num_points: int = 1024,
        per_class: int | None = None,
        seed: int = 0,
        cache_dir: str | os.PathLike | bool | None = None,
        progress: bool = True,
    ):
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {tuple(SPLITS)} (got {split!r})")
        if num_points < 1:
            raise ValueError(f"'num_points' must be at least 1 (got {num_points})")
        self.split = split
        self.num_points = num_points
        self.per_class = DEFAULT_PER_CLASS[split] if per_class is None else per_class
        if self.per_class < 1:
            raise ValueError(f"'per_class' must be at least 1 (got {self.per_class})")
        self.seed = seed
        settings = {
            "split": split,
            "num_points": num_points,
            "per_class": self.per_class,
            "seed": seed,
            "classes": CLASSES,
            "version": 1,
        }
        data = cached(
            f"synthetic_shapes-{split}", settings, lambda: self._generate(progress), cache_dir
        )
        self.points, self.normals, self.labels = data["points"], data["normals"], data["labels"]

    def _generate(self, progress: bool) -> dict[str, torch.Tensor]:
        from tqdm import tqdm

        count = len(CLASSES) * self.per_class
        points = np.empty((count, self.num_points, 3), dtype=np.float32)
        normals = np.empty_like(points)
        labels = np.repeat(np.arange(len(CLASSES)), self.per_class)
        for i in tqdm(
            range(count), desc=f"synthetic_shapes {self.split}", disable=not progress, leave=False
        ):
            rng = np.random.default_rng([self.seed, SPLITS[self.split], i])
            points[i], normals[i] = make_shape(CLASSES[labels[i]], self.num_points, rng)
        return {
            "points": torch.from_numpy(points),
            "normals": torch.from_numpy(normals),
            "labels": torch.from_numpy(labels.astype(np.int64)),
        }

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {
            "points": self.points[index],
            "normals": self.normals[index],
            "label": self.labels[index],
        }
