"""Point-cloud classification samples: ``(points (num_points, 3), label)`` pairs from any
data set of point dicts, with the named augmentations."""

from __future__ import annotations

import torch

from geo3d.data import transforms as T
from geo3d.data.views import SeededView

# The point augmentations by name (a config's ``data.augment``).
POINT_AUGMENTATIONS = {
    "scale": lambda: T.RandomScale(2 / 3, 3 / 2, anisotropic=True),  # Point-PN's
    "translate": lambda: T.RandomTranslate(0.2),  # Point-PN's
    "rotate_z": lambda: T.RandomRotation(),
    "jitter": lambda: T.Jitter(0.01, 0.05),
    "dropout": lambda: T.RandomDropout(0.875),
    "shuffle": lambda: T.ShufflePoints(),
}


class ClassificationView(SeededView):
    """``(points (num_points, 3), label)`` from any classification data set of dicts.

    Takes the first ``num_points`` points (Point-NN's and PointNet++'s protocol) and, for
    training, applies the augmentations with a generator seeded from ``(seed, epoch,
    index)``: the same run gives the same batches, with any number of workers.
    """

    def __init__(
        self,
        dataset,
        num_points: int,
        augment: list[str] | None = None,
        seed: int = 0,
        indices=None,
    ):
        unknown = [a for a in augment or [] if a not in POINT_AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"unknown augmentations {unknown} (known: {', '.join(POINT_AUGMENTATIONS)})"
            )
        super().__init__(dataset, seed, indices)
        self.num_points = num_points
        self.transform = T.Compose([POINT_AUGMENTATIONS[a]() for a in augment or []])

    def __getitem__(self, index: int):
        item = self.dataset[self.indices[index]]
        points = item["points"][: self.num_points]
        if points.shape[0] < self.num_points:
            raise ValueError(
                f"sample {self.indices[index]} has {points.shape[0]} points, fewer than "
                f"{self.num_points}"
            )
        if self.transform.transforms:
            points = self.transform({"points": points}, self.generator(index))["points"]
        return points.contiguous(), item["label"]

    def labels(self) -> torch.Tensor:
        return torch.stack([self.dataset[i]["label"] for i in self.indices])
