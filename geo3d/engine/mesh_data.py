"""Moved to :mod:`geo3d.data.mesh_samples` (this path warns for one release)."""

import warnings

from geo3d.data.mesh_samples import *  # noqa: F401,F403
from geo3d.data.mesh_samples import (  # noqa: F401
    DEFAULT_AUGMENT_OPTIONS,
    MESH_AUGMENTATIONS,
    MeshSampleView,
    MeshSegmentationTargets,
    collate_mesh_samples,
    feature_statistics,
)

warnings.warn(
    "geo3d.engine.mesh_data moved to geo3d.data.mesh_samples (data sets by name: "
    "geo3d.data.build_dataset); the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
