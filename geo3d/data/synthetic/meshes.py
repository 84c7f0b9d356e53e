"""``synthetic_meshes``: closed, manifold triangle meshes for mesh classification and
segmentation (MeshCNN's tasks), made from a seed and cached.

Seven classes of primitive (box, ellipsoid, cylinder, cone, capsule, torus, sphere) with
random proportions, random tessellation (so edge counts differ: 500 to 2,500 edges, as
MeshCNN's inputs), a little vertex noise and a random rotation. Every face carries a part
label shared by all classes: 0 the side or body, 1 the top, 2 the bottom (for the torus:
1 the outer and 2 the inner half). Labels are assigned before the rotation, so a model
must find the parts from the geometry. Edge labels follow MeshCNN's files: the hard label
is the label of the edge's first face, the soft label the mean of its two faces' labels.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from geo3d.data.synthetic.cache import cached
from geo3d.data.synthetic.shapes import _rotation
from geo3d.structures.mesh_edges import mesh_edges

CLASSES = ("box", "ellipsoid", "cylinder", "cone", "capsule", "torus", "sphere")
PARTS = ("side", "top", "bottom")
SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_PER_CLASS = {"train": 40, "val": 10, "test": 20}
EDGE_RANGE = (500, 2500)


def _base_mesh(name: str, rng: np.random.Generator):
    import trimesh.creation as create

    u = rng.uniform
    if name == "box":
        return create.box(extents=u(0.4, 1.0, 3))
    if name in ("sphere", "ellipsoid"):
        mesh = create.uv_sphere(
            radius=1.0, count=[int(rng.integers(8, 20)), int(rng.integers(8, 20))]
        )
        if name == "ellipsoid":
            mesh.vertices = mesh.vertices * np.array([u(0.4, 1.0), u(0.4, 1.0), u(0.5, 1.0)])
        return mesh
    if name == "cylinder":
        return create.cylinder(
            radius=u(0.2, 0.6), height=u(0.6, 1.6), sections=int(rng.integers(12, 40))
        )
    if name == "cone":
        return create.cone(
            radius=u(0.3, 0.7), height=u(0.5, 1.5), sections=int(rng.integers(12, 40))
        )
    if name == "capsule":
        count = int(rng.integers(8, 20))
        return create.capsule(height=u(0.4, 1.4), radius=u(0.2, 0.45), count=[count, count])
    if name == "torus":
        return create.torus(
            major_radius=1.0,
            minor_radius=u(0.2, 0.45),
            major_sections=int(rng.integers(16, 40)),
            minor_sections=int(rng.integers(8, 16)),
        )
    raise ValueError(f"unknown mesh class {name!r}")


def _face_parts(name: str, mesh) -> np.ndarray:
    """Part label of every face (0 side, 1 top, 2 bottom; torus: 1 outer, 2 inner)."""
    centers, normals = mesh.triangles_center, mesh.face_normals
    labels = np.zeros(len(centers), dtype=np.int64)
    if name == "torus":
        radial = np.linalg.norm(centers[:, :2], axis=1)
        return np.where(radial >= 1.0, 1, 2)
    if name in ("box", "cylinder", "cone"):
        labels[normals[:, 2] > 0.9] = 1
        labels[normals[:, 2] < -0.9] = 2
        return labels
    # round shapes: caps by height
    top, bottom = centers[:, 2].max(), centers[:, 2].min()
    span = top - bottom
    if name == "capsule":
        radius = np.linalg.norm(mesh.vertices[:, :2], axis=1).max()
        labels[centers[:, 2] > top - radius] = 1
        labels[centers[:, 2] < bottom + radius] = 2
        return labels
    labels[centers[:, 2] > bottom + 0.7 * span] = 1
    labels[centers[:, 2] < bottom + 0.3 * span] = 2
    return labels


def make_mesh(name: str, rng: np.random.Generator, edge_range=EDGE_RANGE):
    """One sample: ``vertices (V, 3)`` float32, ``faces (F, 3)`` int64, ``face_labels (F,)``."""
    import trimesh

    low, high = edge_range
    target = rng.uniform(low, high)
    mesh = _base_mesh(name, rng)
    labels = _face_parts(name, mesh)
    # Subdivide (each face into four, labels inherited) until the edge count is in range.
    while len(mesh.faces) * 3 / 2 < low or (
        len(mesh.faces) * 3 / 2 < target and len(mesh.faces) * 6 <= high
    ):
        vertices, faces = trimesh.remesh.subdivide(mesh.vertices, mesh.faces)
        mesh = trimesh.Trimesh(vertices, faces, process=False)
        labels = np.repeat(labels, 4)
    if len(mesh.faces) * 3 / 2 > high:
        raise ValueError(f"{name}: {len(mesh.faces) * 3 // 2} edges, past {high}")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    scale = np.abs(vertices).max()
    vertices = vertices + rng.normal(0, 0.004 * scale, vertices.shape)
    vertices = vertices @ _rotation(rng, math.pi).T
    return vertices.astype(np.float32), np.asarray(mesh.faces, dtype=np.int64), labels


def _edge_labels(gemm_faces: torch.Tensor, face_labels: torch.Tensor, num_parts: int):
    first, second = gemm_faces[:, 0], gemm_faces[:, 1]
    hard = face_labels[first]
    one_hot = torch.nn.functional.one_hot(face_labels, num_parts).float()
    soft = (one_hot[first] + one_hot[second.clamp(min=0)]) / 2
    soft = torch.where((second >= 0)[:, None], soft, one_hot[first])
    return hard, soft


class SyntheticMeshes(torch.utils.data.Dataset):
    """The ``synthetic_meshes`` data set (module docstring). Items: ``vertices``, ``faces``,
    ``edges``, ``gemm``, ``label`` (class), ``face_labels``, ``edge_labels`` and
    ``soft_labels (E, 3)``, as the MeshCNN folder data sets give them."""

    classes = CLASSES
    parts = PARTS

    def __init__(self, split="train", per_class=None, seed=0, cache_dir=None, progress=True):
        if split not in SPLITS:
            raise ValueError(f"'split' must be one of {tuple(SPLITS)} (got {split!r})")
        self.split = split
        self.per_class = DEFAULT_PER_CLASS[split] if per_class is None else per_class
        if self.per_class < 1:
            raise ValueError(f"'per_class' must be at least 1 (got {self.per_class})")
        settings = {
            "split": split,
            "per_class": self.per_class,
            "seed": seed,
            "classes": CLASSES,
            "version": 1,
        }
        self.seed = seed
        self.samples = cached(
            f"synthetic_meshes-{split}", settings, lambda: self._generate(progress), cache_dir
        )

    def _generate(self, progress: bool) -> list[dict]:
        from tqdm import tqdm

        samples = []
        count = len(CLASSES) * self.per_class
        for index in tqdm(
            range(count), desc=f"synthetic_meshes {self.split}", disable=not progress, leave=False
        ):
            label = index // self.per_class
            rng = np.random.default_rng([self.seed, SPLITS[self.split], index])
            vertices, faces, face_labels = make_mesh(CLASSES[label], rng)
            faces_t = torch.from_numpy(faces)
            view = mesh_edges(faces_t, vertices.shape[0])
            face_labels_t = torch.from_numpy(face_labels)
            hard, soft = _edge_labels(view.edge_faces, face_labels_t, len(PARTS))
            samples.append(
                {
                    "vertices": torch.from_numpy(vertices),
                    "faces": faces_t,
                    "edges": view.edges,
                    "gemm": view.gemm,
                    "label": torch.tensor(label),
                    "face_labels": face_labels_t,
                    "edge_labels": hard,
                    "soft_labels": soft,
                }
            )
        return samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        return dict(self.samples[index])
