"""``synthetic_lidar``: LiDAR sweeps ray-cast through random street scenes, with 3D boxes.

A rotating multi-beam sensor (default: 64 beams from -24.9 to +2.0 degrees, 0.2 degree
azimuth steps, 1.73 m above the ground, 80 m range: a Velodyne HDL-64E as on KITTI's car)
casts one ray per beam and azimuth through a scene of a ground plane, cars (a body and a
cabin), pedestrians, cyclists, walls, poles and vegetation-like clutter. Each ray keeps
its nearest hit, so objects occlude each other and far objects get few points, as on a
real sweep. Ranges get Gaussian noise, a fraction of the returns drop out, and the
intensity follows the surface's reflectivity, the incidence angle and the range.

Points are ``(x, y, z, intensity)`` in the sensor frame (z up, the sensor at the origin,
like KITTI's velodyne frame); boxes are ``(x, y, z, dx, dy, dz, heading)`` with z at the
centre, for the classes ``Car``, ``Pedestrian`` and ``Cyclist``. Objects with fewer than
``min_points`` returns inside their box are not labelled (they could not be detected).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from geo3d.data.synthetic.cache import cached
from geo3d.structures.boxes import count_points_in_boxes

CLASSES = ("Car", "Pedestrian", "Cyclist")
SPLITS = {"train": 0, "val": 1}
DEFAULT_FRAMES = {"train": 200, "val": 50}


@dataclass(frozen=True)
class Sensor:
    """A rotating multi-beam LiDAR; the defaults approximate KITTI's HDL-64E."""

    beams: int = 64
    lowest_deg: float = -24.9
    highest_deg: float = 2.0
    azimuth_step_deg: float = 0.2
    height: float = 1.73
    max_range: float = 80.0
    range_noise: float = 0.02
    dropout: float = 0.05

    def directions(self) -> np.ndarray:
        """Unit ray directions ``(beams * azimuths, 3)``, beam-major."""
        elevation = np.radians(np.linspace(self.lowest_deg, self.highest_deg, self.beams))
        azimuth = np.radians(np.arange(-180.0, 180.0, self.azimuth_step_deg))
        e, a = np.meshgrid(elevation, azimuth, indexing="ij")
        return np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(
            -1, 3
        )


# (class name or None for unlabelled clutter, reflectivity) per kind of primitive
MATERIALS = {
    "car": 0.5,
    "glass": 0.15,
    "person": 0.35,
    "bike": 0.4,
    "wall": 0.3,
    "pole": 0.6,
    "plant": 0.25,
}


def _scene(rng: np.random.Generator, sensor: Sensor):
    """Random boxes ``(K, 7)`` (centre relative to the ground at z=0), their materials,
    the object each belongs to, and the labelled objects ``[(class, box)]``."""
    boxes, materials, owners, objects = [], [], [], []

    def free(x, y, radius):
        return all(math.hypot(x - ox, y - oy) > radius + orad for ox, oy, orad in placed)

    placed: list[tuple[float, float, float]] = [(0.0, 0.0, 3.0)]  # keep the sensor's car clear

    def place(radius, near=(-55.0, 55.0, -35.0, 35.0)):
        for _ in range(50):
            x, y = rng.uniform(near[0], near[1]), rng.uniform(near[2], near[3])
            if free(x, y, radius):
                placed.append((x, y, radius))
                return x, y
        return None

    road_heading = rng.uniform(-0.2, 0.2)
    for _ in range(rng.integers(6, 16)):  # cars, mostly along the road
        length, width, height = rng.uniform(3.5, 4.8), rng.uniform(1.5, 1.9), rng.uniform(1.4, 1.7)
        spot = place(length / 2 + 0.5)
        if spot is None:
            continue
        heading = road_heading + (math.pi if rng.random() < 0.5 else 0) + rng.normal(0, 0.15)
        if rng.random() < 0.2:
            heading = rng.uniform(-math.pi, math.pi)
        x, y = spot
        body = 0.6 * height
        owner = len(objects)
        boxes.append([x, y, body / 2 + 0.15, length, width, body, heading])
        materials.append("car")
        owners.append(owner)
        cabin_shift = rng.uniform(-0.4, 0.1) * length / 2
        boxes.append(
            [
                x + cabin_shift * math.cos(heading),
                y + cabin_shift * math.sin(heading),
                body + 0.15 + (height - body - 0.15) / 2,
                0.55 * length,
                0.9 * width,
                height - body - 0.15,
                heading,
            ]
        )
        materials.append("glass")
        owners.append(owner)
        objects.append(("Car", [x, y, height / 2, length, width, height, heading]))
    for _ in range(rng.integers(2, 9)):  # pedestrians
        spot = place(0.6, (-35.0, 35.0, -25.0, 25.0))
        if spot is None:
            continue
        height = rng.uniform(1.5, 1.95)
        box = [
            *spot,
            height / 2,
            rng.uniform(0.4, 0.8),
            rng.uniform(0.4, 0.7),
            height,
            rng.uniform(-math.pi, math.pi),
        ]
        boxes.append(box)
        materials.append("person")
        owners.append(len(objects))
        objects.append(("Pedestrian", box))
    for _ in range(rng.integers(0, 5)):  # cyclists: a rider over a bike
        spot = place(1.0, (-35.0, 35.0, -25.0, 25.0))
        if spot is None:
            continue
        heading = road_heading + rng.normal(0, 0.3) + (math.pi if rng.random() < 0.5 else 0)
        length, height = rng.uniform(1.5, 1.9), rng.uniform(1.6, 1.9)
        owner = len(objects)
        boxes.append([*spot, 0.45, length, 0.35, 0.9, heading])
        materials.append("bike")
        owners.append(owner)
        boxes.append([*spot, 0.9 + (height - 0.9) / 2, 0.6, 0.5, height - 0.9, heading])
        materials.append("person")
        owners.append(owner)
        objects.append(("Cyclist", [*spot, height / 2, length, 0.6, height, heading]))
    for side in (-1, 1):  # walls along the street, with gaps
        offset = rng.uniform(9.0, 20.0)
        x = -70.0
        while x < 70.0:
            length = rng.uniform(5.0, 25.0)
            if rng.random() < 0.7:
                cx = x + length / 2
                cy = side * offset + cx * math.tan(road_heading)
                boxes.append([cx, cy, 1.5, length, 0.4, rng.uniform(1.0, 4.0), road_heading])
                materials.append("wall")
                owners.append(-1)
            x += length + rng.uniform(1.0, 8.0)
    for _ in range(rng.integers(4, 14)):  # poles
        spot = place(0.3)
        if spot is not None:
            height = rng.uniform(3.0, 8.0)
            boxes.append([*spot, height / 2, 0.25, 0.25, height, 0.0])
            materials.append("pole")
            owners.append(-1)
    for _ in range(rng.integers(5, 25)):  # vegetation-like clutter: clusters of small boxes
        spot = place(1.5)
        if spot is None:
            continue
        for _ in range(rng.integers(3, 9)):
            size = rng.uniform(0.3, 1.2, 3)
            center = [
                spot[0] + rng.normal(0, 0.6),
                spot[1] + rng.normal(0, 0.6),
                rng.uniform(0.2, 2.5),
            ]
            boxes.append([*center, *size, rng.uniform(-math.pi, math.pi)])
            materials.append("plant")
            owners.append(-1)
    return np.array(boxes, dtype=np.float64).reshape(-1, 7), materials, np.array(owners), objects


def _azimuth_window(box: np.ndarray, origin: np.ndarray, sensor: Sensor) -> np.ndarray | None:
    """The azimuth indices whose rays can reach ``box`` (None: every azimuth)."""
    cx, cy, _, dx, dy, _, heading = box
    c, s = math.cos(heading), math.sin(heading)
    corners = np.array([[sx * dx / 2, sy * dy / 2] for sx in (-1, 1) for sy in (-1, 1)])
    corners = corners @ np.array([[c, s], [-s, c]]) + [cx - origin[0], cy - origin[1]]
    if math.hypot(cx - origin[0], cy - origin[1]) <= math.hypot(dx, dy) / 2 + 0.5:
        return None  # around the sensor: rays leave it in every direction
    centre = math.atan2(cy - origin[1], cx - origin[0])
    relative = (np.arctan2(corners[:, 1], corners[:, 0]) - centre + math.pi) % (
        2 * math.pi
    ) - math.pi
    step = math.radians(sensor.azimuth_step_deg)
    count = int(round(360.0 / sensor.azimuth_step_deg))
    first = math.floor((centre + relative.min() + math.pi) / step) - 1
    last = math.floor((centre + relative.max() + math.pi) / step) + 1
    return np.arange(first, last + 1) % count


def _cast(sensor: Sensor, origin: np.ndarray, boxes: np.ndarray):
    """Nearest hit of every ray of ``sensor``: distance ``(R,)`` (inf: none), index of the
    box hit (-1: the ground), and the surface normal ``(R, 3)``. Each box is tested only
    against the rays of the azimuths it spans (a few hundred of the 115k rays)."""
    directions = sensor.directions()
    count = int(round(360.0 / sensor.azimuth_step_deg))
    distance = np.full(len(directions), np.inf)
    hit_box = np.full(len(directions), -2)
    normal = np.zeros_like(directions)
    down = directions[:, 2] < -1e-9
    ground = np.where(down, -origin[2] / np.where(down, directions[:, 2], -1.0), np.inf)
    better = ground < distance
    distance[better], hit_box[better] = ground[better], -1
    normal[better] = [0.0, 0.0, 1.0]
    beams = np.arange(sensor.beams)[:, None] * count
    with np.errstate(divide="ignore", invalid="ignore"):
        for index, box in enumerate(boxes):
            cx, cy, cz, dx, dy, dz, heading = box
            window = _azimuth_window(box, origin, sensor)
            rays = (
                np.arange(len(directions))
                if window is None
                else (beams + window[None, :]).reshape(-1)
            )
            d = directions[rays]
            c, s = math.cos(heading), math.sin(heading)
            rel = origin - np.array([cx, cy, cz])
            local_origin = np.array([c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1], rel[2]])
            local_dir = np.stack(
                [c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]], 1
            )
            half = np.array([dx, dy, dz]) / 2
            t1 = (-half - local_origin) / local_dir
            t2 = (half - local_origin) / local_dir
            near = np.nan_to_num(np.minimum(t1, t2), nan=-np.inf)
            far = np.nan_to_num(np.maximum(t1, t2), nan=np.inf)
            t_near, t_far = near.max(1), far.min(1)
            hit = (t_far >= t_near) & (t_near > 0) & (t_near < distance[rays])
            if not hit.any():
                continue
            axis = near[hit].argmax(1)
            local_normal = np.zeros((hit.sum(), 3))
            local_normal[np.arange(len(axis)), axis] = -np.sign(local_dir[hit, axis])
            world = np.stack(
                [
                    c * local_normal[:, 0] - s * local_normal[:, 1],
                    s * local_normal[:, 0] + c * local_normal[:, 1],
                    local_normal[:, 2],
                ],
                1,
            )
            target = rays[hit]
            distance[target], hit_box[target], normal[target] = t_near[hit], index, world
    return directions, distance, hit_box, normal


def make_sweep(rng: np.random.Generator, sensor: Sensor = Sensor(), min_points: int = 5):
    """One sweep: ``points (N, 4)`` float32, ``boxes (M, 7)`` float32, class names ``[M]``."""
    boxes, materials, owners, objects = _scene(rng, sensor)
    origin = np.array([0.0, 0.0, sensor.height])
    directions, distance, hit_box, normal = _cast(sensor, origin, boxes)
    keep = (distance < sensor.max_range) & (rng.random(len(distance)) >= sensor.dropout)
    distance, hit_box, normal, directions = (
        distance[keep],
        hit_box[keep],
        normal[keep],
        directions[keep],
    )
    noisy = distance + rng.normal(0, sensor.range_noise, len(distance))
    xyz = origin + directions * noisy[:, None]
    xyz[:, 2] -= sensor.height  # the sensor frame: the sensor at the origin
    reflectivity = np.array([MATERIALS[m] for m in materials] + [0.2])[hit_box]  # -1: ground
    incidence = np.abs((normal * directions).sum(1))
    intensity = reflectivity * (0.3 + 0.7 * incidence) * np.exp(-distance / 150.0)
    intensity = np.clip(intensity + rng.normal(0, 0.02, len(intensity)), 0.0, 1.0)
    points = np.column_stack([xyz, intensity]).astype(np.float32)
    all_boxes = np.array([box for _, box in objects], dtype=np.float64).reshape(-1, 7)
    all_boxes[:, 2] -= sensor.height
    # Labelled: objects with at least min_points returns inside their box (after noise).
    counts = count_points_in_boxes(torch.from_numpy(xyz), torch.from_numpy(all_boxes)).numpy()
    labelled = [i for i in range(len(objects)) if counts[i] >= min_points]
    label_boxes = all_boxes[labelled]
    return points, label_boxes.astype(np.float32), [objects[i][0] for i in labelled]


class SyntheticLidar(torch.utils.data.Dataset):
    """The ``synthetic_lidar`` data set (module docstring); items like
    :class:`geo3d.data.datasets.KittiDetection`'s, batched by ``collate_scenes``.

    The split is generated from ``seed`` on first use (bit for bit the same everywhere)
    and cached under ``cache_dir`` (``$GEO3D_CACHE`` or ``~/.cache/geo3d``; ``False``:
    memory only).
    """

    classes = CLASSES

    def __init__(
        self,
        split: str = "train",
        frames: int | None = None,
        seed: int = 0,
        sensor: Sensor = Sensor(),
        cache_dir=None,
        progress: bool = True,
    ):
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {tuple(SPLITS)} (got {split!r})")
        self.split = split
        self.frames = DEFAULT_FRAMES[split] if frames is None else frames
        if self.frames < 1:
            raise ValueError(f"'frames' must be at least 1 (got {self.frames})")
        self.seed, self.sensor = seed, sensor
        settings = {
            "split": split,
            "frames": self.frames,
            "seed": seed,
            "sensor": asdict(sensor),
            "version": 1,
        }
        self.samples = cached(
            f"synthetic_lidar-{split}", settings, lambda: self._generate(progress), cache_dir
        )

    def _generate(self, progress: bool) -> list[dict]:
        from tqdm import tqdm

        samples = []
        for index in tqdm(
            range(self.frames),
            desc=f"synthetic_lidar {self.split}",
            disable=not progress,
            leave=False,
        ):
            rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
            points, boxes, names = make_sweep(rng, self.sensor)
            samples.append(
                {
                    "points": torch.from_numpy(points),
                    "boxes": torch.from_numpy(boxes),
                    "box_labels": torch.tensor(
                        [CLASSES.index(n) for n in names], dtype=torch.int64
                    ),
                }
            )
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        sample = self.samples[index]
        names = [CLASSES[i] for i in sample["box_labels"].tolist()]
        return {**sample, "names": names, "frame_id": f"{self.split}-{index:06d}"}
