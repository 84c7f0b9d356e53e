"""ModelNet10/40 in the original Princeton layout: ``root/<class>/<train|test>/*.off``."""

from __future__ import annotations

import os

import torch

from geo3d.data.datasets.base import SkippingDataset
from geo3d.data.io.meshes import read_mesh
from geo3d.structures.meshes import sample_surface

SPLITS = ("train", "test")


class ModelNetMeshFolder(SkippingDataset):
    """Meshes of one split, each sampled to ``num_points`` surface points with normals.

    Sample ``i`` is drawn with a generator seeded from ``(seed, i)``, so a data set gives
    the same points on every run and in every worker. Items are dicts:
    ``points (num_points, 3)``, ``normals (num_points, 3)`` float32, ``label`` int64, ``path``.

    Args:
        root: the folder holding one sub-folder per class.
        split: ``"train"`` or ``"test"``.
        classes: the class names to use (default: every class folder, sorted); labels are
            their positions in this list.
        skip_bad_files: warn about and skip files that cannot be read, instead of raising.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        num_points: int = 1024,
        classes: list[str] | None = None,
        seed: int = 0,
        skip_bad_files: bool = False,
    ):
        root = os.fspath(root)
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {SPLITS} (got {split!r})")
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: no such ModelNet folder")
        found = sorted(
            name for name in os.listdir(root) if os.path.isdir(os.path.join(root, name, split))
        )
        if not found:
            raise ValueError(
                f"{root}: not a ModelNet folder (expected <class>/{split}/*.off inside)"
            )
        self.classes = list(classes) if classes is not None else found
        missing = [c for c in self.classes if c not in found]
        if missing:
            raise ValueError(f"{root}: no {split} folder for classes {missing}")
        self.files: list[tuple[str, int]] = []
        for label, name in enumerate(self.classes):
            folder = os.path.join(root, name, split)
            for file in sorted(os.listdir(folder)):
                if file.lower().endswith(".off"):
                    self.files.append((os.path.join(folder, file), label))
        if not self.files:
            raise ValueError(f"{root}: no .off files in the {split} split")
        self.num_points = num_points
        self.seed = seed
        self.skip_bad_files = skip_bad_files

    def __len__(self) -> int:
        return len(self.files)

    def _load(self, index: int) -> dict:
        path, label = self.files[index]
        mesh = read_mesh(path)
        generator = self.item_generator(index)
        points, normals = sample_surface(mesh, self.num_points, generator)
        return {
            "points": points,
            "normals": normals,
            "label": torch.tensor(label, dtype=torch.int64),
            "path": path,
        }
