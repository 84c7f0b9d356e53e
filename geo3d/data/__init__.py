"""Data: readers of real formats, data sets by name, transforms and batching.

``build_dataset(name, **options)`` gives the splits of any registered data set (points,
meshes or LiDAR scenes) as a :class:`DataBundle`; :mod:`geo3d.data.catalog` lists geo3d's.
"""

from geo3d.data.gt_sampling import GroundTruthSampler, ObjectDatabase
from geo3d.data.mesh_samples import (
    MeshSampleView,
    MeshSegmentationTargets,
    collate_mesh_samples,
    feature_statistics,
)
from geo3d.data.point_views import POINT_AUGMENTATIONS, ClassificationView
from geo3d.data.registry import (
    DataBundle,
    available_datasets,
    build_dataset,
    dataset_kind,
    dataset_options,
    register_dataset,
)
from geo3d.data.scene_views import SCENE_AUGMENTATIONS, SceneView
from geo3d.data.splits import split_off_validation

__all__ = [
    "POINT_AUGMENTATIONS",
    "SCENE_AUGMENTATIONS",
    "ClassificationView",
    "GroundTruthSampler",
    "ObjectDatabase",
    "SceneView",
    "DataBundle",
    "MeshSampleView",
    "MeshSegmentationTargets",
    "available_datasets",
    "build_dataset",
    "collate_mesh_samples",
    "dataset_kind",
    "dataset_options",
    "feature_statistics",
    "register_dataset",
    "split_off_validation",
]
