"""Mesh samples for MeshCNN: augmentation, the edge view, the five features, standardised.

A :class:`MeshSampleView` wraps any data set of mesh dicts (``vertices``, ``faces`` and
``label`` or ``edge_labels``/``soft_labels``, optionally ``face_labels``) and gives ready
samples; :func:`collate_mesh_samples` packs them into ``((features, MeshBatch), targets)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from geo3d.data import mesh_transforms as MT
from geo3d.data.views import SeededView
from geo3d.structures.mesh_batch import MeshBatch
from geo3d.structures.mesh_edges import mesh_edges
from geo3d.structures.mesh_features import FEATURE_VARIANTS, edge_areas, edge_features
from geo3d.structures.points import cat_shifted, counts_to_ptr

MESH_AUGMENTATIONS = ("scale_verts", "flip_edges", "slide_verts")
# The official defaults: N(1, 0.1) scaling, 20 % of edges flipped, 20 % of vertices slid.
DEFAULT_AUGMENT_OPTIONS = {"scale_verts": 0.1, "flip_edges": 0.2, "slide_verts": 0.2}


def feature_statistics(samples) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mean (5,), std (5,))``: the mean over meshes of each mesh's per-channel mean and
    (population) std, as the official ``get_mean_std`` computes them (without its
    zero padding to ``ninput_edges``)."""
    means, stds = [], []
    for features in samples:
        means.append(features.to(torch.float64).mean(dim=0))
        stds.append(features.to(torch.float64).std(dim=0, unbiased=False))
    if not means:
        raise ValueError("no meshes to compute feature statistics from")
    return torch.stack(means).mean(0).float(), torch.stack(stds).mean(0).float()


class MeshSampleView(SeededView):
    """Samples for MeshCNN from a data set of mesh dicts.

    Args:
        dataset: items with ``vertices (V, 3)``, ``faces (F, 3)`` and labels.
        task: ``"classification"`` (``label``) or ``"segmentation"`` (``edge_labels``,
            ``soft_labels``, optionally ``face_labels``).
        features: ``"official"`` or ``"exact"`` (:func:`geo3d.structures.edge_features`).
        augment: names from :data:`MESH_AUGMENTATIONS`, applied in the official order
            (scale, flips, slides) with a generator seeded by ``(seed, epoch, index)``.
        augment_options: overrides of :data:`DEFAULT_AUGMENT_OPTIONS`.
        statistics: ``(mean, std)`` to standardise the features (from the training set).
    """

    def __init__(
        self,
        dataset,
        task="classification",
        features="official",
        augment=None,
        augment_options=None,
        statistics=None,
        seed=0,
        indices=None,
    ):
        if task not in ("classification", "segmentation"):
            raise ValueError(f"'task' must be classification or segmentation (got {task!r})")
        if features not in FEATURE_VARIANTS:
            raise ValueError(f"'features' must be one of {FEATURE_VARIANTS} (got {features!r})")
        augment = list(augment or [])
        unknown = [a for a in augment if a not in MESH_AUGMENTATIONS]
        if unknown:
            raise ValueError(
                f"unknown mesh augmentations {unknown} (known: {', '.join(MESH_AUGMENTATIONS)})"
            )
        if task == "segmentation" and "flip_edges" in augment:
            raise ValueError(
                "flip_edges renumbers the edges, so it cannot be used with per-edge labels"
            )
        options = dict(DEFAULT_AUGMENT_OPTIONS)
        for key, value in (augment_options or {}).items():
            if key not in options:
                raise ValueError(f"unknown augment option {key!r} (known: {', '.join(options)})")
            options[key] = float(value)
        super().__init__(dataset, seed, indices)
        self.task, self.features = task, features
        self.augment, self.options = augment, options
        self.statistics = statistics

    def raw_features(self):
        """The unstandardised, unaugmented features of every sample (for statistics)."""
        for index in self.indices:
            item = self.dataset[index]
            view = mesh_edges(item["faces"], item["vertices"].shape[0])
            yield edge_features(item["vertices"], view, self.features)

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[self.indices[index]]
        vertices, faces = item["vertices"], item["faces"]
        generator = self.generator(index) if self.augment else None
        if "scale_verts" in self.augment:
            vertices = MT.scale_vertices(vertices, generator, self.options["scale_verts"])
        if "flip_edges" in self.augment:
            faces = MT.flip_edges(vertices, faces, self.options["flip_edges"], generator)
        view = mesh_edges(faces, vertices.shape[0])
        if "slide_verts" in self.augment:
            vertices = MT.slide_vertices(vertices, view, self.options["slide_verts"], generator)
        features = edge_features(vertices, view, self.features)
        if self.statistics is not None:
            mean, std = self.statistics
            features = (features - mean) / std
        sample = {"features": features, "vertices": vertices, "faces": faces, "view": view}
        if self.task == "classification":
            sample["label"] = item["label"]
        else:
            num_edges = view.edges.shape[0]
            if item["edge_labels"].shape[0] != num_edges:
                raise ValueError(
                    f"sample {self.indices[index]}: {num_edges} edges but "
                    f"{item['edge_labels'].shape[0]} edge labels"
                )
            sample["edge_labels"] = item["edge_labels"]
            sample["soft_labels"] = item["soft_labels"]
            sample["edge_areas"] = edge_areas(vertices, faces, view)
            if "face_labels" in item:
                sample["face_labels"] = item["face_labels"]
        return sample


@dataclass(frozen=True)
class MeshSegmentationTargets:
    """Packed targets of a batch: ``edge_labels (E,)``, ``soft_labels (E, K)``,
    ``edge_areas (E,)`` (each mesh's sum to 1), ``edge_ptr (B + 1,)``, ``edge_faces (E, 2)``
    packed face ids (``-1`` at boundaries) and ``face_labels (F,)`` (empty if unknown)."""

    edge_labels: torch.Tensor
    soft_labels: torch.Tensor
    edge_areas: torch.Tensor
    edge_ptr: torch.Tensor
    edge_faces: torch.Tensor
    face_labels: torch.Tensor

    def to(self, device) -> MeshSegmentationTargets:
        return replace(self, **{k: getattr(self, k).to(device) for k in self.__dataclass_fields__})


def collate_mesh_samples(samples: list[dict]):
    """``((features (E, 5), MeshBatch), labels (B,) or MeshSegmentationTargets)``."""
    if not samples:
        raise ValueError("collate_mesh_samples: empty batch")
    views = [s["view"] for s in samples]
    mesh = MeshBatch.from_views(views, [s["vertices"] for s in samples])
    features = torch.cat([s["features"] for s in samples])
    if "label" in samples[0]:
        return (features, mesh), torch.stack([s["label"] for s in samples])
    face_ptr = counts_to_ptr([s["faces"].shape[0] for s in samples])
    edge_faces = cat_shifted([v.edge_faces for v in views], face_ptr)
    has_faces = all("face_labels" in s for s in samples)
    targets = MeshSegmentationTargets(
        edge_labels=torch.cat([s["edge_labels"] for s in samples]),
        soft_labels=torch.cat([s["soft_labels"] for s in samples]),
        edge_areas=torch.cat([s["edge_areas"] for s in samples]),
        edge_ptr=mesh.edge_ptr,
        edge_faces=edge_faces,
        face_labels=torch.cat([s["face_labels"] for s in samples])
        if has_faces
        else torch.zeros(0, dtype=torch.int64),
    )
    return (features, mesh), targets
