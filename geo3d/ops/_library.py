"""The ``geo3d`` operator library: every schema in one place, and the native kernels.

Schemas are defined here, in Python, so that the library works whether or not the
native extension ``geo3d._C`` was built. ``geo3d._C`` only *implements* these ops for
the CPU and CUDA dispatch keys (``TORCH_LIBRARY_IMPL`` in ``ops/``). Where a key has
no native kernel (no build, or a build without CUDA), the plain-torch reference
implementation is registered for it instead, with one warning.

The schemas take every argument explicitly (lengths as tensors, never ``None``);
the public wrappers in this package validate user input and fill in defaults.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch

NAMESPACE = "geo3d"

SCHEMAS: dict[str, str] = {
    "farthest_point_sample": (
        "(Tensor xyz, Tensor lengths, int num_samples, Tensor start_idx) -> Tensor"
    ),
    "knn": (
        "(Tensor query, Tensor support, Tensor query_lengths, Tensor support_lengths, "
        "int k) -> (Tensor, Tensor)"
    ),
    "farthest_point_sample_packed": (
        "(Tensor xyz, Tensor ptr, Tensor sample_ptr, int num_total, Tensor start_idx) -> Tensor"
    ),
    "knn_packed": (
        "(Tensor query, Tensor support, Tensor query_ptr, Tensor support_ptr, int k) "
        "-> (Tensor, Tensor)"
    ),
    "ball_query": (
        "(Tensor query, Tensor support, Tensor query_lengths, Tensor support_lengths, "
        "float radius, int max_neighbors) -> Tensor"
    ),
    "gather_points": "(Tensor feats, Tensor idx) -> Tensor",
    "gather_points_backward": "(Tensor grad, Tensor idx, int num_points) -> Tensor",
    "voxelize": (
        "(Tensor points, float[] voxel_size, float[] point_range, int max_points_per_voxel, "
        "int max_voxels) -> (Tensor, Tensor, Tensor)"
    ),
    "dynamic_voxelize": "(Tensor points, float[] voxel_size, float[] point_range) -> Tensor",
    "scatter": (
        "(Tensor src, Tensor index, int num_segments, str reduce) -> (Tensor, Tensor, Tensor)"
    ),
    "soft_pool": ("(Tensor x, int[] kernel_size, int[] stride, int[] padding) -> (Tensor, Tensor)"),
    "soft_pool_backward": (
        "(Tensor grad_out, Tensor x, Tensor out, Tensor lse, int[] kernel_size, int[] stride, "
        "int[] padding) -> Tensor"
    ),
    "edge_collapse": (
        "(Tensor edges, Tensor gemm, Tensor sides, Tensor priority, Tensor vertices, "
        "Tensor edge_ptr, Tensor vertex_ptr, Tensor targets, Tensor stale_refs, bool official) "
        "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)"
    ),
    "box_iou": "(Tensor a, Tensor b, bool three_d) -> Tensor",
    "nms_bev": (
        "(Tensor boxes, Tensor scores, Tensor labels, float iou_threshold, int pre_max, "
        "int post_max) -> Tensor"
    ),
    "points_in_boxes": "(Tensor points, Tensor boxes) -> Tensor",
    "kitti_statistics": (
        "(Tensor overlaps, Tensor overlap_ptr, Tensor gt_ptr, Tensor dt_ptr, Tensor ignored_gt, "
        "Tensor ignored_dt, Tensor scores, Tensor gt_alpha, Tensor dt_alpha, Tensor dontcare, "
        "Tensor dontcare_ptr, Tensor thresholds, float min_overlap, bool compute_fp, "
        "bool compute_aos) -> (Tensor, Tensor)"
    ),
    "sparse_conv_neighbors": (
        "(Tensor in_coords, Tensor out_coords, int[] in_shape, int[] kernel_size, int[] stride, "
        "int[] padding, int[] dilation) -> Tensor"
    ),
    "sparse_conv_outputs": (
        "(Tensor coords, int[] in_shape, int[] kernel_size, int[] stride, int[] padding, "
        "int[] dilation, int[] out_shape) -> Tensor"
    ),
    "set_partition": (
        "(Tensor coords, int[] sparse_shape, int[] window, int[] shift, int set_size) "
        "-> (Tensor, Tensor)"
    ),
    "group_moments": "(Tensor xyz, Tensor feats, Tensor centres, Tensor neighbours) -> Tensor",
    "point_nn_aggregate": (
        "(Tensor xyz, Tensor feats, Tensor centres, Tensor neighbours, Tensor feat_scale, "
        "Tensor xyz_scale, Tensor denominators, float beta) -> Tensor"
    ),
    "scatter_soft_backward": (
        "(Tensor grad_out, Tensor src, Tensor index, Tensor out, Tensor lse) -> Tensor"
    ),
}

_library = torch.library.Library(NAMESPACE, "DEF")
for _name, _schema in SCHEMAS.items():
    _library.define(_name + _schema)

_references: dict[str, Callable] = {}
_impl_library = torch.library.Library(NAMESPACE, "IMPL")
native_error: str | None = None


def op(name: str) -> torch._ops.OpOverload:
    """The dispatcher op ``torch.ops.geo3d.<name>.default``."""
    return getattr(getattr(torch.ops, NAMESPACE), name).default


def register_reference(name: str):
    """Declare ``fn`` as the plain-torch kernel serving ``name`` where no native one exists."""

    def decorator(fn: Callable) -> Callable:
        _references[name] = fn
        return fn

    return decorator


def _load_native() -> None:
    global native_error
    if os.environ.get("GEO3D_DISABLE_NATIVE", "") not in ("", "0"):
        native_error = "disabled by GEO3D_DISABLE_NATIVE"
        return
    try:
        from geo3d import _C  # noqa: F401  (loading registers the kernels)
    except ImportError as error:
        native_error = str(error)


def has_native_kernel(name: str, device_type: str) -> bool:
    """Whether ``geo3d._C`` registered a kernel of op ``name`` for ``device_type``
    ('cpu', 'cuda')."""
    key = {"cpu": "CPU", "cuda": "CUDA"}[device_type]
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"{NAMESPACE}::{name}", key)


def finalize() -> None:
    """Load ``geo3d._C`` and fill every (op, device) without a native kernel with its reference."""
    _load_native()
    missing_cpu = []
    for name in SCHEMAS:
        if name not in _references:
            raise RuntimeError(f"op geo3d::{name} has no reference implementation")
        for device_type in ("cpu", "cuda"):
            if not has_native_kernel(name, device_type):
                _impl_library.impl(name, _references[name], device_type.upper())
                if device_type == "cpu":
                    missing_cpu.append(name)
    if missing_cpu:
        reason = native_error or "the extension has no CPU kernel for them"
        warnings.warn(
            f"geo3d: native kernels unavailable ({reason}); the plain-torch reference "
            f"implementations serve {', '.join(missing_cpu)}: correct but slower. "
            "Build them with `pip install --no-build-isolation -e .`.",
            RuntimeWarning,
            stacklevel=2,
        )


def native_available() -> bool:
    """Whether the native CPU kernels are loaded (False when the references serve)."""
    return all(has_native_kernel(name, "cpu") for name in SCHEMAS) and native_error is None
