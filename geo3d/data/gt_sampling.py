"""Ground-truth sampling: paste objects cut from other training scenes into a scene (SECOND,
Yan et al., Sensors 2018, section 2.5; OpenPCDet's ``DataBaseSampler``), the augmentation
that lifts LiDAR detectors the most on small data sets.

- :class:`ObjectDatabase` cuts every labelled box's points out of a training split once
  (where they were recorded, all point features kept; OpenPCDet stores them relative to the
  box centre to move them onto a road plane, which geo3d does not do, and adding the centre
  back would move points on a face by a rounding error), dropping objects with fewer
  than ``min_points`` points (OpenPCDet's ``filter_by_min_points``, 5 for KITTI).
- :class:`GroundTruthSampler` tops each class up to its target count (``sample_groups``,
  OpenPCDet's PointPillars KITTI config: 15 cars, 15 pedestrians, 15 cyclists): it draws
  that many objects of the class, drops every drawn box whose bird's-eye view overlaps a box
  already in the scene *or another drawn box* (OpenPCDet's rule: both of two colliding
  draws go), removes the scene's points inside the kept boxes and puts the objects' points
  there, at the place and heading where they were recorded (so their occlusion pattern and
  point density still match their range).

Differs from OpenPCDet on purpose in one place: each draw is a seeded choice without
replacement, not a pointer walking a shuffled list, so that a scene's augmentation depends
only on ``(seed, epoch, index)`` (the same batches with any number of workers, and after a
resume). A point inside two overlapping labelled boxes is cut with the first of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from geo3d.ops import box_iou_bev, points_in_boxes

# OpenPCDet's KITTI PointPillars config (SAMPLE_GROUPS and filter_by_min_points).
KITTI_SAMPLE_GROUPS = {"Car": 15, "Pedestrian": 15, "Cyclist": 15}
MIN_POINTS = 5


@dataclass
class ObjectDatabase:
    """Objects cut from a training split.

    Attributes:
        points: ``(P, C)`` every object's points, where they were recorded.
        ptr: ``(K + 1,)`` int64: object ``k``'s points are ``points[ptr[k]:ptr[k + 1]]``.
        boxes: ``(K, 7)`` the objects' boxes where they were recorded.
        labels: ``(K,)`` int64 class indices into ``classes``.
        classes: class names.
    """

    points: torch.Tensor
    ptr: torch.Tensor
    boxes: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    @classmethod
    def from_scenes(
        cls, dataset, classes, min_points: int = MIN_POINTS, progress: bool = True
    ) -> ObjectDatabase:
        """Cut the objects of every item of ``dataset`` (dicts with ``points (N, C)``,
        ``boxes (M, 7)``, ``box_labels (M,)``), with a progress bar."""
        from tqdm import tqdm

        pieces, boxes, labels = [], [], []
        channels = None
        for index in tqdm(
            range(len(dataset)), desc="ground-truth database", disable=not progress, leave=False
        ):
            item = dataset[index]
            points, item_boxes = item["points"], item["boxes"].float()
            if channels is None:
                channels = points.shape[1]
            elif points.shape[1] != channels:
                raise ValueError(
                    f"scene {index} has {points.shape[1]} point channels, earlier scenes "
                    f"{channels}: one database needs one layout"
                )
            if item_boxes.shape[0] == 0:
                continue
            owner = points_in_boxes(points[:, :3].contiguous().float(), item_boxes)
            order = torch.argsort(owner, stable=True)
            counts = torch.bincount(owner + 1, minlength=item_boxes.shape[0] + 1)[1:]
            starts = torch.cumsum(counts, 0) - counts + int((owner < 0).sum())
            for box in range(item_boxes.shape[0]):
                if int(counts[box]) < min_points:
                    continue
                rows = order[int(starts[box]) : int(starts[box]) + int(counts[box])]
                pieces.append(points[rows].clone())
                boxes.append(item_boxes[box])
                labels.append(int(item["box_labels"][box]))
        if not pieces:
            raise ValueError(
                f"no labelled object with at least {min_points} points in {len(dataset)} "
                "scenes: nothing to sample"
            )
        sizes = torch.tensor([p.shape[0] for p in pieces])
        return cls(
            points=torch.cat(pieces),
            ptr=torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(sizes, 0)]),
            boxes=torch.stack(boxes),
            labels=torch.tensor(labels, dtype=torch.int64),
            classes=list(classes),
        )

    def __len__(self) -> int:
        return self.boxes.shape[0]

    def object_points(self, index: int) -> torch.Tensor:
        """Object ``index``'s points ``(n, C)``."""
        return self.points[int(self.ptr[index]) : int(self.ptr[index + 1])]

    def counts(self) -> dict[str, int]:
        """Objects per class name."""
        tally = torch.bincount(self.labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, tally))


def _collision_free(drawn: torch.Tensor, existing: torch.Tensor) -> torch.Tensor:
    """``(n,)`` bool: drawn boxes that overlap neither an existing box nor another drawn box
    in bird's-eye view (OpenPCDet's ``valid_mask``)."""
    if drawn.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool)
    among = box_iou_bev(drawn, drawn)
    among.fill_diagonal_(0)
    clear = among.amax(dim=1) <= 0
    if existing.shape[0]:
        clear &= box_iou_bev(drawn, existing).amax(dim=1) <= 0
    return clear


class GroundTruthSampler:
    """A scene transform (``sample, generator -> sample``) pasting database objects (module
    docstring). ``sample_groups`` maps class names to the count each is topped up to;
    classes it does not name are not sampled."""

    def __init__(self, database: ObjectDatabase, sample_groups=None):
        groups = dict(KITTI_SAMPLE_GROUPS if sample_groups is None else sample_groups)
        unknown = sorted(set(groups) - set(database.classes))
        if unknown:
            raise ValueError(
                f"sample_groups names {unknown}, not classes of the database "
                f"({', '.join(database.classes)})"
            )
        if any(int(n) < 0 for n in groups.values()):
            raise ValueError(f"sample_groups counts must be >= 0 (got {groups})")
        self.database = database
        self.targets = {database.classes.index(name): int(n) for name, n in groups.items()}
        self.pools = {
            label: (database.labels == label).nonzero().squeeze(1) for label in self.targets
        }

    def __call__(self, sample: dict, generator: torch.Generator) -> dict:
        boxes = sample["boxes"].float()
        labels = sample["box_labels"]
        existing = boxes
        chosen: list[torch.Tensor] = []
        for label, target in self.targets.items():
            pool = self.pools[label]
            wanted = min(target - int((labels == label).sum()), pool.shape[0])
            if wanted <= 0:
                continue
            drawn = pool[torch.randperm(pool.shape[0], generator=generator)[:wanted]]
            kept = drawn[_collision_free(self.database.boxes[drawn], existing)]
            if kept.numel():
                chosen.append(kept)
                existing = torch.cat([existing, self.database.boxes[kept]])
        if not chosen:
            return sample
        picked = torch.cat(chosen)
        new_boxes = self.database.boxes[picked]
        points = sample["points"]
        inside = points_in_boxes(points[:, :3].contiguous().float(), new_boxes) >= 0
        pasted = [self.database.object_points(int(k)).to(points.dtype) for k in picked]
        out = dict(sample)
        out["points"] = torch.cat([*pasted, points[~inside]])
        out["boxes"] = torch.cat([sample["boxes"], new_boxes.to(sample["boxes"].dtype)])
        out["box_labels"] = torch.cat([labels, self.database.labels[picked]])
        if "names" in sample:
            out["names"] = list(sample["names"]) + [
                self.database.classes[int(k)] for k in self.database.labels[picked]
            ]
        return out
