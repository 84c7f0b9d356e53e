"""geo3d's geometric ops: sampling, neighbours, gathering, voxelization, scatter,
and the planning of MeshCNN's edge collapses.

Every op is a ``torch.library`` custom op (``torch.ops.geo3d.*``) with native CPU and
CUDA kernels from ``geo3d._C``, a fake kernel for ``torch.compile`` / ``torch.export``,
autograd where it is differentiable, and a plain-torch ``*_reference`` beside it.
"""

from geo3d.ops import _library
from geo3d.ops.boxes import (
    box_iou_3d,
    box_iou_bev,
    box_iou_reference,
    nms_bev,
    nms_bev_reference,
    points_in_boxes,
    points_in_boxes_reference,
)
from geo3d.ops.edge_collapse import CollapsePlan, edge_collapse_reference, plan_edge_collapse
from geo3d.ops.gather import gather_points, gather_points_reference
from geo3d.ops.kitti_statistics import (
    kitti_statistics,
    kitti_statistics_python,
    kitti_statistics_reference,
)
from geo3d.ops.local_aggregation import (
    group_moments_reference,
    group_stds,
    point_nn_aggregate,
    point_nn_aggregate_reference,
)
from geo3d.ops.neighbors import ball_query, ball_query_reference, knn, knn_reference
from geo3d.ops.packed import (
    farthest_point_sample_packed,
    farthest_point_sample_packed_reference,
    knn_packed,
    knn_packed_reference,
    ptr_from_batch,
    ptr_from_lengths,
)
from geo3d.ops.sampling import farthest_point_sample, farthest_point_sample_reference
from geo3d.ops.scatter import REDUCTIONS, scatter, scatter_reference
from geo3d.ops.set_partition import (
    SetPartition,
    set_masks,
    set_partition,
    set_partition_reference,
)
from geo3d.ops.soft_pool import (
    soft_pool1d,
    soft_pool2d,
    soft_pool3d,
    soft_pool_reference,
)
from geo3d.ops.sparse_conv import (
    conv_output_shape,
    sparse_conv_neighbors,
    sparse_conv_neighbors_reference,
    sparse_conv_output_coords,
    sparse_conv_outputs_reference,
    sparse_conv_pairs,
)
from geo3d.ops.unique_rows import unique_rows
from geo3d.ops.voxelize import (
    check_grid,
    dynamic_voxelize,
    dynamic_voxelize_reference,
    grid_size,
    voxelize,
    voxelize_reference,
)
from geo3d.ops.windows import window_slots

_library.finalize()
native_available = _library.native_available

__all__ = [
    "box_iou_3d",
    "box_iou_bev",
    "box_iou_reference",
    "nms_bev",
    "nms_bev_reference",
    "points_in_boxes",
    "points_in_boxes_reference",
    "REDUCTIONS",
    "CollapsePlan",
    "ball_query",
    "ball_query_reference",
    "check_grid",
    "dynamic_voxelize",
    "dynamic_voxelize_reference",
    "edge_collapse_reference",
    "farthest_point_sample",
    "farthest_point_sample_reference",
    "farthest_point_sample_packed",
    "farthest_point_sample_packed_reference",
    "gather_points",
    "gather_points_reference",
    "grid_size",
    "kitti_statistics",
    "kitti_statistics_python",
    "kitti_statistics_reference",
    "knn",
    "knn_reference",
    "knn_packed",
    "knn_packed_reference",
    "ptr_from_batch",
    "ptr_from_lengths",
    "native_available",
    "plan_edge_collapse",
    "scatter",
    "scatter_reference",
    "SetPartition",
    "set_masks",
    "set_partition",
    "set_partition_reference",
    "group_moments_reference",
    "group_stds",
    "point_nn_aggregate",
    "point_nn_aggregate_reference",
    "conv_output_shape",
    "sparse_conv_neighbors",
    "sparse_conv_neighbors_reference",
    "sparse_conv_output_coords",
    "sparse_conv_outputs_reference",
    "sparse_conv_pairs",
    "soft_pool1d",
    "soft_pool2d",
    "soft_pool3d",
    "soft_pool_reference",
    "unique_rows",
    "voxelize",
    "voxelize_reference",
    "window_slots",
]
