"""geo3d's geometric ops: sampling, neighbours, gathering, voxelization, scatter.

Every op is a ``torch.library`` custom op (``torch.ops.geo3d.*``) with native CPU and
CUDA kernels from ``geo3d._C``, a fake kernel for ``torch.compile`` / ``torch.export``,
autograd where it is differentiable, and a plain-torch ``*_reference`` beside it.
"""

from geo3d.ops import _library
from geo3d.ops.gather import gather_points, gather_points_reference
from geo3d.ops.neighbors import ball_query, ball_query_reference, knn, knn_reference
from geo3d.ops.sampling import farthest_point_sample, farthest_point_sample_reference
from geo3d.ops.scatter import REDUCTIONS, scatter, scatter_reference
from geo3d.ops.voxelize import (
    dynamic_voxelize,
    dynamic_voxelize_reference,
    grid_size,
    voxelize,
    voxelize_reference,
)

_library.finalize()
native_available = _library.native_available

__all__ = [
    "REDUCTIONS",
    "ball_query",
    "ball_query_reference",
    "dynamic_voxelize",
    "dynamic_voxelize_reference",
    "farthest_point_sample",
    "farthest_point_sample_reference",
    "gather_points",
    "gather_points_reference",
    "grid_size",
    "knn",
    "knn_reference",
    "native_available",
    "scatter",
    "scatter_reference",
    "voxelize",
    "voxelize_reference",
]
