"""Point-cloud data sets in the layouts their authors distribute.

- :class:`ModelNetNormalResampled`: PointNet++'s ``modelnet40_normal_resampled`` text files.
- :class:`ModelNetH5`: PointNet's ``modelnet40_ply_hdf5_2048`` files (``ply_data_*.h5``).
- :class:`ScanObjectNN`: the ``h5_files`` of ScanObjectNN in its three common variants.
- :class:`ShapeNetPart`: ``shapenetcore_partanno_segmentation_benchmark_v0_normal``.

Items are dicts with ``points (N, 3)`` float32, ``label`` int64 and, where the layout has
them, ``normals (N, 3)`` and per-point ``part_labels (N,)``. Files are read lazily per item
(text layouts) or once per split (HDF5, which hold whole splits in a few arrays).
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from geo3d.data.datasets.base import SkippingDataset


def _require_dir(root: str, what: str) -> str:
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: no such {what} folder")
    return root


def _read_lines(path: str) -> list[str]:
    if not os.path.isfile(path):
        raise ValueError(f"{path}: missing (is the folder in its original layout?)")
    with open(path) as handle:
        return [line.strip() for line in handle if line.strip()]


def _load_text_points(path: str, delimiter: str | None, columns: int) -> np.ndarray:
    try:
        data = np.loadtxt(path, delimiter=delimiter, dtype=np.float32, ndmin=2)
    except (ValueError, OSError) as error:
        raise ValueError(f"{path}: unreadable point file ({error})") from None
    if data.shape[1] < columns:
        raise ValueError(f"{path}: expected {columns} columns per point, got {data.shape[1]}")
    return data


class ModelNetNormalResampled(SkippingDataset):
    """``root/modelnet{40,10}_shape_names.txt``, ``modelnet{N}_{train,test}.txt`` (ids such
    as ``airplane_0001``) and ``root/<class>/<id>.txt`` with ``x,y,z,nx,ny,nz`` per line.

    Following PointNet++ and Point-NN, the first ``num_points`` points are used (no random
    subsampling); the files hold 10,000 points.
    """

    def __init__(self, root, split="train", num_points=1024, num_classes=40, skip_bad_files=False):
        root = _require_dir(root, "modelnet40_normal_resampled")
        if split not in ("train", "test"):
            raise ValueError(f"'split' must be 'train' or 'test' (got {split!r})")
        if num_classes not in (10, 40):
            raise ValueError(f"'num_classes' must be 10 or 40 (got {num_classes})")
        self.classes = _read_lines(os.path.join(root, f"modelnet{num_classes}_shape_names.txt"))
        ids = _read_lines(os.path.join(root, f"modelnet{num_classes}_{split}.txt"))
        self.items = []
        for shape_id in ids:
            name = shape_id.rsplit("_", 1)[0]
            if name not in self.classes:
                raise ValueError(f"{root}: id {shape_id!r} names no class of the shape list")
            self.items.append(
                (os.path.join(root, name, f"{shape_id}.txt"), self.classes.index(name))
            )
        self.num_points = num_points
        self.skip_bad_files = skip_bad_files

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, index: int) -> dict:
        path, label = self.items[index]
        data = _load_text_points(path, ",", 6)[: self.num_points]
        return {
            "points": torch.from_numpy(data[:, :3].copy()),
            "normals": torch.from_numpy(data[:, 3:6].copy()),
            "label": torch.tensor(label, dtype=torch.int64),
        }


class _H5Arrays(torch.utils.data.Dataset):
    """Whole splits stored as ``data (S, N, 3)`` and ``label (S,)`` arrays in HDF5 files."""

    def _read(self, paths: list[str], keys=("data", "label")) -> dict[str, np.ndarray]:
        from geo3d.optional import require

        h5py = require("h5py", "HDF5 data sets")
        parts: dict[str, list[np.ndarray]] = {}
        for path in paths:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: no such HDF5 file")
            try:
                with h5py.File(path, "r") as handle:
                    for key in keys:
                        if key not in handle:
                            raise ValueError(
                                f"{path}: no '{key}' array (found {sorted(handle.keys())})"
                            )
                        parts.setdefault(key, []).append(np.asarray(handle[key]))
                    if "normal" in handle:
                        parts.setdefault("normal", []).append(np.asarray(handle["normal"]))
            except OSError as error:
                raise ValueError(f"{path}: not a readable HDF5 file ({error})") from None
        arrays = {key: np.concatenate(values) for key, values in parts.items()}
        if arrays["data"].ndim != 3 or arrays["data"].shape[2] < 3:
            raise ValueError(f"{paths[0]}: 'data' must be (S, N, 3), got {arrays['data'].shape}")
        return arrays

    def _set(self, arrays: dict[str, np.ndarray], num_points: int) -> None:
        self.points = torch.from_numpy(arrays["data"][:, :num_points, :3].astype(np.float32))
        self.labels = torch.from_numpy(arrays["label"].reshape(-1).astype(np.int64))
        self.normals = (
            torch.from_numpy(arrays["normal"][:, :num_points].astype(np.float32))
            if "normal" in arrays
            else None
        )
        if self.labels.shape[0] != self.points.shape[0]:
            raise ValueError(f"{self.points.shape[0]} clouds but {self.labels.shape[0]} labels")

    def __len__(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, index: int) -> dict:
        item = {"points": self.points[index], "label": self.labels[index]}
        if self.normals is not None:
            item["normals"] = self.normals[index]
        return item


class ModelNetH5(_H5Arrays):
    """PointNet's ``modelnet40_ply_hdf5_2048``: ``ply_data_{train,test}*.h5`` (``data``,
    ``label``, and ``normal`` where present) and ``shape_names.txt``."""

    def __init__(self, root, split="train", num_points=1024):
        root = _require_dir(root, "modelnet40_ply_hdf5_2048")
        if split not in ("train", "test"):
            raise ValueError(f"'split' must be 'train' or 'test' (got {split!r})")
        files = sorted(
            f for f in os.listdir(root) if f.startswith(f"ply_data_{split}") and f.endswith(".h5")
        )
        if not files:
            raise ValueError(f"{root}: no ply_data_{split}*.h5 files")
        self.classes = _read_lines(os.path.join(root, "shape_names.txt"))
        self._set(self._read([os.path.join(root, f) for f in files]), num_points)


SCANOBJECTNN_VARIANTS = {
    # variant: (folder, file stem); OBJ_BG keeps the background, OBJ_ONLY removes it,
    # PB_T50_RS is the hardest: translated, rotated and scaled boxes with background.
    "OBJ_BG": ("main_split", "objectdataset"),
    "OBJ_ONLY": ("main_split_nobg", "objectdataset"),
    "PB_T50_RS": ("main_split", "objectdataset_augmentedrot_scale75"),
}
SCANOBJECTNN_CLASSES = (
    "bag",
    "bin",
    "box",
    "cabinet",
    "chair",
    "desk",
    "display",
    "door",
    "shelf",
    "table",
    "bed",
    "pillow",
    "sink",
    "sofa",
    "toilet",
)


class ScanObjectNN(_H5Arrays):
    """ScanObjectNN's ``h5_files``: ``<folder>/{training,test}_<stem>.h5`` per variant
    (see ``SCANOBJECTNN_VARIANTS``), 2048 points per object, 15 classes."""

    classes = SCANOBJECTNN_CLASSES

    def __init__(self, root, variant="PB_T50_RS", split="train", num_points=1024):
        root = _require_dir(root, "ScanObjectNN h5_files")
        if variant not in SCANOBJECTNN_VARIANTS:
            raise ValueError(
                f"'variant' must be one of {tuple(SCANOBJECTNN_VARIANTS)} (got {variant!r})"
            )
        if split not in ("train", "test"):
            raise ValueError(f"'split' must be 'train' or 'test' (got {split!r})")
        folder, stem = SCANOBJECTNN_VARIANTS[variant]
        prefix = "training" if split == "train" else "test"
        self._set(self._read([os.path.join(root, folder, f"{prefix}_{stem}.h5")]), num_points)


class ShapeNetPart(SkippingDataset):
    """``synsetoffset2category.txt``, ``train_test_split/shuffled_{split}_file_list.json``
    (entries ``shape_data/<synset>/<id>``) and ``<synset>/<id>.txt`` with
    ``x y z nx ny nz part`` per line. ``label`` is the category, ``part_labels`` the parts
    (50 in all)."""

    def __init__(self, root, split="train", num_points=2048, skip_bad_files=False, seed=0):
        root = _require_dir(root, "ShapeNet-Part")
        if split not in ("train", "val", "test"):
            raise ValueError(f"'split' must be 'train', 'val' or 'test' (got {split!r})")
        categories = [
            line.split() for line in _read_lines(os.path.join(root, "synsetoffset2category.txt"))
        ]
        if any(len(c) != 2 for c in categories):
            raise ValueError(
                f"{root}/synsetoffset2category.txt: expected 'Category synset' per line"
            )
        self.classes = [name for name, _ in categories]
        synset_to_label = {synset: i for i, (_, synset) in enumerate(categories)}
        listing = os.path.join(root, "train_test_split", f"shuffled_{split}_file_list.json")
        if not os.path.isfile(listing):
            raise ValueError(f"{listing}: missing (is the folder in its original layout?)")
        with open(listing) as handle:
            entries = json.load(handle)
        self.items = []
        for entry in entries:
            _, synset, shape_id = entry.split("/")
            if synset not in synset_to_label:
                raise ValueError(f"{listing}: {entry!r} names an unknown synset")
            self.items.append(
                (os.path.join(root, synset, f"{shape_id}.txt"), synset_to_label[synset])
            )
        self.num_points = num_points
        self.seed = seed
        self.skip_bad_files = skip_bad_files

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, index: int) -> dict:
        path, label = self.items[index]
        data = _load_text_points(path, None, 7)
        # Shapes have ~2,000-3,000 points: a fixed-size random choice, the same every epoch.
        generator = self.item_generator(index)
        count = data.shape[0]
        if count >= self.num_points:
            chosen = torch.randperm(count, generator=generator)[: self.num_points].numpy()
        else:
            chosen = torch.randint(0, count, (self.num_points,), generator=generator).numpy()
        data = data[chosen]
        return {
            "points": torch.from_numpy(data[:, :3].copy()),
            "normals": torch.from_numpy(data[:, 3:6].copy()),
            "part_labels": torch.from_numpy(data[:, 6].astype(np.int64)),
            "label": torch.tensor(label, dtype=torch.int64),
        }
