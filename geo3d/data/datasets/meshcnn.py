"""MeshCNN's data layouts (Hanocka et al. 2019, the official ``datasets/`` folders).

- Classification (SHREC, cubes): ``root/<class>/{train,test}/*.obj``.
- Segmentation (COSEG, human bodies): ``root/{train,test}/<name>.obj`` with
  ``root/seg/<name>.eseg`` (one label per edge) and ``root/sseg/<name>.seseg`` (one row of
  soft labels per edge), edges numbered as :func:`geo3d.structures.mesh_edges` numbers them.
  As in the official ``segmentation_data.py``, labels are shifted so that the smallest
  label of the whole data set is 0.

Meshes are repaired for MeshCNN (:func:`geo3d.structures.repair_mesh`: duplicate vertices
merged, degenerate, repeated and non-manifold faces dropped) with a warning naming the
file and what changed; ``repair=False`` makes any of these an error instead. Items are
dicts: ``vertices (V, 3)``, ``faces (F, 3)``, ``edges (E, 2)``, ``gemm (E, 4)``, ``path``,
and ``label`` (classification) or ``edge_labels (E,)`` and ``soft_labels (E, C)``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch

from geo3d.data.datasets.base import SkippingDataset
from geo3d.data.io.meshes import read_mesh
from geo3d.structures.mesh_edges import mesh_edges
from geo3d.structures.mesh_repair import repair_mesh


def _mesh_item(path: str, repair: bool = True) -> dict:
    mesh = read_mesh(path)
    vertices, faces, report = repair_mesh(mesh.vertices, mesh.faces, repair, name=path)
    if report.changed:
        warnings.warn(f"{path}: repaired for MeshCNN ({report})", RuntimeWarning, stacklevel=3)
    view = mesh_edges(faces, vertices.shape[0])
    return {
        "vertices": vertices,
        "faces": faces,
        "edges": view.edges,
        "gemm": view.gemm,
        "path": path,
    }


def _objs(folder: str) -> list[str]:
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".obj"))


class MeshClassificationFolder(SkippingDataset):
    """``root/<class>/<split>/*.obj``; labels are positions in the sorted class list."""

    def __init__(self, root, split="train", skip_bad_files=False, repair=True):
        root = os.fspath(root)
        self.repair = repair
        if not os.path.isdir(root):
            raise FileNotFoundError(f"{root}: no such mesh data set folder")
        self.classes = sorted(
            n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n, split))
        )
        if not self.classes:
            raise ValueError(
                f"{root}: not a MeshCNN classification folder (expected <class>/{split}/*.obj)"
            )
        self.items = [
            (p, label)
            for label, c in enumerate(self.classes)
            for p in _objs(os.path.join(root, c, split))
        ]
        if not self.items:
            raise ValueError(f"{root}: no .obj files in the {split} split")
        self.skip_bad_files = skip_bad_files

    def __len__(self) -> int:
        return len(self.items)

    def _load(self, index: int) -> dict:
        path, label = self.items[index]
        return {**_mesh_item(path, self.repair), "label": torch.tensor(label, dtype=torch.int64)}


def _read_labels(path: str, dtype) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: missing label file")
    try:
        return np.loadtxt(path, dtype=dtype, ndmin=1 if dtype is np.int64 else 2)
    except ValueError as error:
        raise ValueError(f"{path}: unreadable labels ({error})") from None


class MeshSegmentationFolder(SkippingDataset):
    """``root/<split>/*.obj`` with ``root/seg/*.eseg`` and ``root/sseg/*.seseg``."""

    def __init__(self, root, split="train", skip_bad_files=False, repair=True):
        root = os.fspath(root)
        self.repair = repair
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such split folder (expected root/{split}/*.obj)")
        for sub in ("seg", "sseg"):
            if not os.path.isdir(os.path.join(root, sub)):
                raise ValueError(f"{root}: not a MeshCNN segmentation folder (no {sub}/ inside)")
        self.paths = _objs(folder)
        if not self.paths:
            raise ValueError(f"{folder}: no .obj files")
        self.root = root
        all_labels = [_read_labels(p, np.int64) for p in self._label_files(root, "seg", ".eseg")]
        values = (
            np.unique(np.concatenate(all_labels)) if all_labels else np.zeros(1, dtype=np.int64)
        )
        self.offset = int(values.min())
        self.num_classes = int(values.max()) - self.offset + 1
        self.skip_bad_files = skip_bad_files

    @staticmethod
    def _label_files(root: str, sub: str, suffix: str) -> list[str]:
        folder = os.path.join(root, sub)
        return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(suffix))

    def __len__(self) -> int:
        return len(self.paths)

    def _load(self, index: int) -> dict:
        path = self.paths[index]
        item = _mesh_item(path, self.repair)
        stem = os.path.splitext(os.path.basename(path))[0]
        hard = _read_labels(os.path.join(self.root, "seg", f"{stem}.eseg"), np.int64)
        soft = _read_labels(os.path.join(self.root, "sseg", f"{stem}.seseg"), np.float32)
        num_edges = item["edges"].shape[0]
        if hard.shape[0] != num_edges or soft.shape[0] != num_edges:
            raise ValueError(
                f"{path}: {num_edges} edges but {hard.shape[0]} edge labels and {soft.shape[0]} "
                "soft labels"
            )
        item["edge_labels"] = torch.from_numpy(hard - self.offset)
        item["soft_labels"] = torch.from_numpy(soft)
        return item
