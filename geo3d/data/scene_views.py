"""LiDAR training scenes with the field's augmentations, by name (a config's
``data.augment``), seeded per ``(seed, epoch, index)``.

The names and their settings are OpenPCDet's KITTI ones (``DATA_AUGMENTOR`` of
``pointpillar.yaml``):

- ``gt_sampling``: paste objects cut from the training split
  (:mod:`geo3d.data.gt_sampling`; 15 cars, 15 pedestrians, 15 cyclists per scene).
- ``flip``: mirror y with probability 0.5 (``random_world_flip`` along x).
- ``rotate``: rotate the scene about z by U(-pi/4, pi/4) (``random_world_rotation``).
- ``scale``: scale the scene by U(0.95, 1.05) (``random_world_scaling``).
- ``translate``: shift the scene by U(-0.5, 0.5) m per axis (OpenPCDet's KITTI configs do
  not translate; its ``random_world_translation`` draws N(0, std) per axis, geo3d's
  transform draws uniformly, bounded so no object leaves a range by surprise).

They are applied in the order the config lists them (OpenPCDet's order is the one above).
"""

from __future__ import annotations

import math

from geo3d.data import transforms as T
from geo3d.data.gt_sampling import KITTI_SAMPLE_GROUPS, GroundTruthSampler, ObjectDatabase
from geo3d.data.views import SeededView

SCENE_AUGMENTATIONS = {
    "gt_sampling": None,  # needs the training split's object database (SceneView builds it)
    "flip": lambda: T.RandomFlip(("y",)),
    "rotate": lambda: T.RandomRotation(math.pi / 4),
    "scale": lambda: T.RandomScale(0.95, 1.05, anisotropic=False),
    "translate": lambda: T.RandomTranslate(0.5),
}


class SceneView(SeededView):
    """The scenes of ``dataset`` (dicts of ``points``, ``boxes``, ``box_labels``, ...) with
    the named augmentations; ``sample_groups`` sets ground-truth sampling's per-class
    targets (default :data:`geo3d.data.gt_sampling.KITTI_SAMPLE_GROUPS`, for the classes
    the data set has)."""

    def __init__(
        self,
        dataset,
        augment: list[str] | None = None,
        seed: int = 0,
        sample_groups: dict[str, int] | None = None,
        progress: bool = True,
    ):
        augment = list(augment or [])
        unknown = [a for a in augment if a not in SCENE_AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"unknown scene augmentations {unknown} (known: {', '.join(SCENE_AUGMENTATIONS)})"
            )
        super().__init__(dataset, seed)
        steps = []
        self.database = None
        for name in augment:
            if name == "gt_sampling":
                classes = list(dataset.classes)
                self.database = ObjectDatabase.from_scenes(dataset, classes, progress=progress)
                if sample_groups is None:
                    sample_groups = {k: v for k, v in KITTI_SAMPLE_GROUPS.items() if k in classes}
                steps.append(GroundTruthSampler(self.database, sample_groups))
            else:
                steps.append(SCENE_AUGMENTATIONS[name]())
        self.augment = augment
        self.transform = T.Compose(steps)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[self.indices[index]]
        if not self.transform.transforms:
            return item
        # the camera-frame record (KITTI's official evaluation) no longer describes the
        # moved, flipped or pasted boxes
        item = {k: v for k, v in item.items() if k != "kitti"}
        return self.transform(item, self.generator(index))
