"""The bad-input table: every public entry point, each case a bad input and what it must
give: an error of a named class whose message names the problem (a fragment of it is
checked), or a correct result. A new module adds its rows here.

Each row is ``(id, call, expected)``: ``call`` takes the pytest ``tmp_path``; ``expected``
is ``(ErrorClass, "message fragment")`` or ``("ok", check)`` with ``check(result)``
returning True for the correct answer.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from geo3d import export, ops
from geo3d.data import SceneView, io
from geo3d.data import datasets as D
from geo3d.engine import load_config
from geo3d.engine.checkpoint import load_checkpoint, load_model_weights
from geo3d.nn import sparse_conv as nn_sparse
from geo3d.optional import MissingDependencyError, install_hint, require
from geo3d.pooling import (
    AttentionPool,
    MeshPool,
    SetPool,
    VoxelFeatureEncoder,
    WindowAttentionPool,
    make_pooling,
    pool_groups,
    soft_pool_features,
    window_slots,
)
from geo3d.pooling.slot_rows import slot_rows
from geo3d.structures import (
    check_mesh,
    count_points_in_boxes,
    edge_features,
    mesh_edges,
    packed_to_padded,
    points_in_boxes,
    repair_mesh,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAN = float("nan")
KITTI_CALIB = """P0: 1 0 0 0 0 1 0 0 0 0 1 0
P1: 1 0 0 0 0 1 0 0 0 0 1 0
P2: 700 0 600 45 0 700 170 0 0 0 1 0
P3: 700 0 600 45 0 700 170 0 0 0 1 0
R0_rect: 1 0 0 0 1 0 0 0 1
Tr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0
Tr_imu_to_velo: 1 0 0 0 0 1 0 0 0 0 1 0
"""
GOOD_LABEL = "Car 0.00 0 -1.58 587.01 173.33 614.12 200.12 1.65 1.67 3.64 -0.65 1.71 46.70 -1.59\n"


VOXELS = torch.tensor([[0, 1, 1, 1], [0, 3, 2, 1], [1, 0, 0, 0]], dtype=torch.int32)


def sparse_voxels(dtype=torch.float32):
    return nn_sparse.SparseConvTensor(torch.ones(3, 2, dtype=dtype), VOXELS, [4, 4, 4], 2)


def clouds(b=2, n=16, dtype=torch.float32):
    return torch.rand(b, n, 3, dtype=dtype)


def with_nan(t, where=(0, 3, 1)):
    t = t.clone()
    t[where] = NAN
    return t


def write(tmp_path, name, content, binary=False):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if binary:
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


def truncated_npy(tmp_path):
    path = tmp_path / "cloud.npy"
    np.save(path, np.random.rand(100, 3).astype(np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return str(path)


def config_file(tmp_path, **sections):
    import yaml

    data = {"name": "t", "data": {"dataset": "synthetic_shapes"}, "model": {"name": "point_pn"}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value) if isinstance(value, dict) else data.update(
            {key: value}
        )
    return str(write(tmp_path, "c.yaml", yaml.safe_dump(data)))


def bad_config(**sections):
    return lambda tmp: load_config(config_file(tmp, **sections))


class _TinyScenes(torch.utils.data.Dataset):
    """Two scenes of 40 points, each with one car box holding 20 of them (or none)."""

    classes = ["Car"]

    def __init__(self, boxes: bool = True):
        self.boxes = boxes

    def __len__(self):
        return 2

    def __getitem__(self, index):
        points = torch.cat([torch.rand(20, 4) * 0.5 + index * 10, torch.rand(20, 4) + 40])
        box = torch.tensor([[index * 10 + 0.25, 0.25, 0.25, 1.0, 1.0, 1.0, 0.0]])
        count = 1 if self.boxes else 0
        return {
            "points": points,
            "boxes": box[:count],
            "box_labels": torch.zeros(count, dtype=torch.int64),
        }


def saved(tmp_path, state, name="w.pt"):
    torch.save(state, tmp_path / name)
    return str(tmp_path / name)


class _PrintOnLoad:
    def __reduce__(self):
        return (print, ("unpickled",))


def code_checkpoint(tmp_path):
    """A checkpoint whose pickle calls ``print`` when unpickled (harmless, but code)."""
    return saved(tmp_path, {"model": {}, "payload": _PrintOnLoad()})


def write_png(path, height=375, width=1242):
    from PIL import Image

    Image.new("L", (width, height)).save(path)


def kitti_frame(tmp_path, label=GOOD_LABEL, calib=KITTI_CALIB, cloud=True):
    root = tmp_path / "kitti"
    folders = ("training/velodyne", "training/label_2", "training/calib", "training/image_2")
    for folder in (*folders, "ImageSets"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for frame in ("000000", "000001"):
        write_png(root / f"training/image_2/{frame}.png")
    if cloud:
        np.random.rand(50, 4).astype(np.float32).tofile(root / "training/velodyne/000000.bin")
    (root / "training/label_2/000000.txt").write_text(label)
    (root / "training/calib/000000.txt").write_text(calib)
    (root / "ImageSets/train.txt").write_text("000000\n")
    return str(root)


def kitti_skipping(tmp_path, bad_label=GOOD_LABEL, bad_calib=KITTI_CALIB):
    """Two frames, the first bad: ``skip_bad_files`` serves the second, with a warning."""
    import warnings

    root = kitti_frame(tmp_path, bad_label, bad_calib)
    np.random.rand(40, 4).astype(np.float32).tofile(f"{root}/training/velodyne/000001.bin")
    with open(f"{root}/training/label_2/000001.txt", "w") as handle:
        handle.write(GOOD_LABEL)
    with open(f"{root}/training/calib/000001.txt", "w") as handle:
        handle.write(KITTI_CALIB)
    with open(f"{root}/ImageSets/train.txt", "w") as handle:
        handle.write("000000\n000001\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        item = D.KittiDetection(root, skip_bad_files=True)[0]
    return item, [str(w.message) for w in caught]


SINGULAR_CALIB = KITTI_CALIB.replace("R0_rect: 1 0 0 0 1 0 0 0 1", "R0_rect: 1 0 0 0 0 0 0 0 1")


ROWS = {
    "ops.farthest_point_sample": [
        (
            "empty cloud",
            lambda t: ops.farthest_point_sample(torch.rand(2, 0, 3), 4),
            (ValueError, "empty cloud"),
        ),
        (
            "NaN coordinates",
            lambda t: ops.farthest_point_sample(with_nan(clouds()), 4),
            (ValueError, "NaN or inf"),
        ),
        (
            "num_samples 0",
            lambda t: ops.farthest_point_sample(clouds(), 0),
            (ValueError, "'num_samples' must be at least 1"),
        ),
        (
            "int points",
            lambda t: ops.farthest_point_sample(clouds().long(), 4),
            (ValueError, "float32 or float64"),
        ),
        (
            "lengths past N",
            lambda t: ops.farthest_point_sample(clouds(), 4, torch.tensor([16, 17])),
            (ValueError, "'lengths' must lie in [0, 16]"),
        ),
        (
            "start outside cloud",
            lambda t: ops.farthest_point_sample(clouds(), 4, torch.tensor([16, 5]), start_idx=6),
            (ValueError, "'start_idx' 6 is outside cloud 1"),
        ),
        (
            "more samples than points",
            lambda t: ops.farthest_point_sample(clouds(1, 3), 5),
            (
                "ok",
                lambda r: r.tolist()[0][3:] == [-1, -1] and sorted(r.tolist()[0][:3]) == [0, 1, 2],
            ),
        ),
        (
            "NaN in padding is fine",
            lambda t: ops.farthest_point_sample(
                with_nan(clouds(2, 8), (1, 7, 0)), 2, torch.tensor([8, 7])
            ),
            ("ok", lambda r: r.shape == (2, 2) and int(r.max()) < 8),
        ),
    ],
    "ops.knn": [
        (
            "k larger than N",
            lambda t: ops.knn(clouds(), clouds(2, 5), 6),
            (
                "ok",
                lambda r: (
                    bool((r[1][..., 5:] == -1).all()) and bool(torch.isinf(r[0][..., 5:]).all())
                ),
            ),
        ),
        ("k 0", lambda t: ops.knn(clouds(), clouds(), 0), (ValueError, "'k' must be at least 1")),
        (
            "NaN support",
            lambda t: ops.knn(clouds(), with_nan(clouds()), 3),
            (ValueError, "'support' has NaN or inf"),
        ),
        ("batch mismatch", lambda t: ops.knn(clouds(2), clouds(3), 3), (ValueError, "batch")),
        (
            "dtype mismatch",
            lambda t: ops.knn(clouds(), clouds(dtype=torch.float64), 3),
            (ValueError, "float64"),
        ),
        (
            "2D points",
            lambda t: ops.knn(torch.rand(2, 16, 2), clouds(), 3),
            (ValueError, "(B, N, 3)"),
        ),
        (
            "empty support",
            lambda t: ops.knn(clouds(), torch.rand(2, 0, 3), 3),
            (ValueError, "empty cloud"),
        ),
    ],
    "ops.knn_packed": [
        (
            "k larger than a cloud",
            lambda t: ops.knn_packed(
                torch.rand(6, 3),
                torch.rand(7, 3),
                4,
                torch.tensor([0, 3, 6]),
                torch.tensor([0, 2, 7]),
            ),
            ("ok", lambda r: bool((r[1][:3, 2:] == -1).all()) and bool((r[1][3:] >= 2).all())),
        ),
        (
            "ptr not from 0",
            lambda t: ops.knn_packed(
                torch.rand(6, 3), torch.rand(6, 3), 2, torch.tensor([1, 6]), torch.tensor([0, 6])
            ),
            (ValueError, "'query_ptr'[0] must be 0"),
        ),
        (
            "ptr decreasing",
            lambda t: ops.knn_packed(
                torch.rand(6, 3),
                torch.rand(6, 3),
                2,
                torch.tensor([0, 6]),
                torch.tensor([0, 4, 2, 6]),
            ),
            (ValueError, "non-decreasing"),
        ),
        (
            "ptr total off",
            lambda t: ops.knn_packed(
                torch.rand(6, 3), torch.rand(6, 3), 2, torch.tensor([0, 6]), torch.tensor([0, 5])
            ),
            (ValueError, "'support_ptr'[-1] = 5 but 'support' has 6 points"),
        ),
        (
            "NaN query",
            lambda t: ops.knn_packed(
                with_nan(torch.rand(1, 6, 3))[0],
                torch.rand(6, 3),
                2,
                torch.tensor([0, 6]),
                torch.tensor([0, 6]),
            ),
            (ValueError, "'query' has NaN or inf"),
        ),
    ],
    "ops.farthest_point_sample_packed": [
        (
            "more samples than points",
            lambda t: ops.farthest_point_sample_packed(
                torch.rand(10, 3), torch.tensor([0, 3, 10]), 4
            ),
            (ValueError, "cloud 0 has 3 points, cannot sample 4"),
        ),
        (
            "empty cloud by ratio",
            lambda t: ops.farthest_point_sample_packed(
                torch.rand(10, 3), torch.tensor([0, 0, 10]), ratio=0.5
            ),
            ("ok", lambda r: r[1].tolist() == [0, 0, 5] and bool((r[0] >= 0).all())),
        ),
        (
            "both count and ratio",
            lambda t: ops.farthest_point_sample_packed(
                torch.rand(10, 3), torch.tensor([0, 10]), 2, ratio=0.5
            ),
            (ValueError, "exactly one of"),
        ),
        (
            "padded points",
            lambda t: ops.farthest_point_sample_packed(
                torch.rand(1, 10, 3), torch.tensor([0, 10]), 2
            ),
            (ValueError, "(P, 3)"),
        ),
    ],
    "configs by name": [
        (
            "unknown name",
            lambda t: load_config("pointpn_synthtic"),
            (FileNotFoundError, "not the name of a shipped config (centerpoint_voxel_kitti"),
        ),
        (
            "a shipped name",
            lambda t: load_config("pointpn_synthetic"),
            ("ok", lambda config: config.name == "pointpn_synthetic"),
        ),
    ],
    "optional dependencies": [
        (
            "missing module",
            lambda t: require("geo3d_no_such_module", "drawing"),
            (MissingDependencyError, "drawing needs geo3d_no_such_module"),
        ),
        (
            "missing extra named",
            lambda t: install_hint("open3d"),
            ("ok", lambda hint: hint == 'pip install "geo3d[vis]" (or pip install open3d)'),
        ),
    ],
    "ops.ball_query": [
        (
            "negative radius",
            lambda t: ops.ball_query(clouds(), clouds(), -1.0, 4),
            (ValueError, "'radius' must be a positive finite"),
        ),
        (
            "NaN radius",
            lambda t: ops.ball_query(clouds(), clouds(), NAN, 4),
            (ValueError, "'radius'"),
        ),
        (
            "max_neighbors 0",
            lambda t: ops.ball_query(clouds(), clouds(), 0.5, 0),
            (ValueError, "'max_neighbors'"),
        ),
        (
            "NaN query",
            lambda t: ops.ball_query(with_nan(clouds()), clouds(), 0.5, 4),
            (ValueError, "'query' has NaN"),
        ),
    ],
    "ops.gather_points": [
        (
            "index out of range",
            lambda t: ops.gather_points(torch.rand(2, 5, 3), torch.tensor([[0, 5], [1, 2]])),
            (ValueError, "idx"),
        ),
        (
            "int32 index",
            lambda t: ops.gather_points(torch.rand(2, 5, 3), torch.zeros(2, 2, dtype=torch.int32)),
            (ValueError, "int64"),
        ),
        (
            "batch mismatch",
            lambda t: ops.gather_points(torch.rand(2, 5, 3), torch.zeros(3, 2, dtype=torch.long)),
            (ValueError, "B = 2"),
        ),
        (
            "-1 gives zeros",
            lambda t: ops.gather_points(torch.ones(1, 5, 2), torch.tensor([[-1, 0]])),
            ("ok", lambda r: r.tolist() == [[[0.0, 0.0], [1.0, 1.0]]]),
        ),
    ],
    "ops.voxelize": [
        (
            "points outside the range",
            lambda t: ops.voxelize(
                torch.tensor([[5.0, 5.0, 5.0, 1.0]]), [1, 1, 1], [0, 0, 0, 2, 2, 2], 4, 10
            ),
            ("ok", lambda r: r[0].shape[0] == 0 and r[1].shape == (0, 3)),
        ),
        (
            "NaN xyz",
            lambda t: ops.voxelize(
                with_nan(torch.rand(5, 4), (2, 0)), [1, 1, 1], [0, 0, 0, 1, 1, 1], 2, 10
            ),
            (ValueError, "NaN"),
        ),
        (
            "grid overflowing int32",
            lambda t: ops.voxelize(torch.rand(5, 4), [1, 1, 1], [0, 0, 0, 3e9, 1, 1], 2, 10),
            (ValueError, "int32"),
        ),
        (
            "empty range",
            lambda t: ops.voxelize(torch.rand(5, 4), [1, 1, 1], [0, 0, 0, 0, 1, 1], 2, 10),
            (ValueError, "empty"),
        ),
        (
            "zero voxel size",
            lambda t: ops.dynamic_voxelize(torch.rand(5, 4), [1, 0, 1], [0, 0, 0, 1, 1, 1]),
            (ValueError, "'voxel_size'"),
        ),
        (
            "max_voxels 0",
            lambda t: ops.voxelize(torch.rand(5, 4), [1, 1, 1], [0, 0, 0, 1, 1, 1], 2, 0),
            (ValueError, "'max_voxels'"),
        ),
    ],
    "ops.scatter": [
        (
            "index past num_segments",
            lambda t: ops.scatter(torch.rand(3, 2), torch.tensor([0, 1, 3]), 3),
            (ValueError, "[0, 3)"),
        ),
        (
            "NaN in a max segment",
            lambda t: ops.scatter(
                torch.tensor([[1.0], [NAN], [3.0]]), torch.zeros(3, dtype=torch.long), 1, "max"
            ),
            ("ok", lambda r: math.isnan(r.item())),
        ),
        (
            "-inf in a soft segment",
            lambda t: ops.scatter(
                torch.tensor([[1.0], [-math.inf]]), torch.zeros(2, dtype=torch.long), 1, "soft"
            ),
            ("ok", lambda r: r.item() == 1.0),
        ),
        (
            "unknown reduce",
            lambda t: ops.scatter(torch.rand(3, 2), torch.zeros(3, dtype=torch.long), 1, "median"),
            (ValueError, "'reduce'"),
        ),
    ],
    "ops.soft_pool": [
        (
            "-inf members",
            lambda t: ops.soft_pool1d(torch.tensor([[[-math.inf, 2.0]]]), 2),
            ("ok", lambda r: r.tolist() == [[[2.0]]]),
        ),
        (
            "kernel larger than input",
            lambda t: ops.soft_pool2d(torch.rand(1, 1, 2, 2), 3),
            (ValueError, "larger than the padded input"),
        ),
        (
            "integer input",
            lambda t: ops.soft_pool2d(torch.ones(1, 1, 2, 2, dtype=torch.long), 2),
            (ValueError, "floating"),
        ),
        (
            "stride 0",
            lambda t: ops.soft_pool2d(torch.rand(1, 1, 4, 4), 2, 0),
            (ValueError, "strides must be >= 1"),
        ),
    ],
    "ops.boxes": [
        (
            "boxes of 6 columns",
            lambda t: ops.box_iou_bev(torch.rand(2, 6), torch.rand(2, 7)),
            (ValueError, "Expected 'a' of shape (M, 7)"),
        ),
        (
            "NaN box",
            lambda t: ops.box_iou_3d(torch.rand(2, 7), with_nan(torch.rand(2, 7), (1, 0))),
            (ValueError, "'b' has NaN or inf values"),
        ),
        (
            "scores of the wrong length",
            lambda t: ops.nms_bev(torch.rand(3, 7), torch.rand(4), 0.5),
            (ValueError, "Expected 'scores' of shape (3,)"),
        ),
        (
            "2D points in boxes",
            lambda t: ops.points_in_boxes(torch.rand(5, 2), torch.rand(2, 7)),
            (ValueError, "Expected 'points' of shape (N, 3+)"),
        ),
        (
            "a zero-size box",
            lambda t: ops.box_iou_bev(torch.zeros(1, 7), torch.zeros(1, 7)),
            ("ok", lambda r: float(r) == 0.0),
        ),
        (
            "KITTI statistics with overlaps for the wrong number of boxes",
            lambda t: torch.ops.geo3d.kitti_statistics(
                torch.zeros(3, dtype=torch.float64),
                torch.tensor([0, 3]),
                torch.tensor([0, 2]),
                torch.tensor([0, 2]),
                torch.zeros(2, dtype=torch.int64),
                torch.zeros(2, dtype=torch.int64),
                torch.zeros(2, dtype=torch.float64),
                torch.zeros(2, dtype=torch.float64),
                torch.zeros(2, dtype=torch.float64),
                torch.zeros(0, dtype=torch.float64),
                torch.tensor([0, 0]),
                torch.zeros(1, dtype=torch.float64),
                0.5,
                True,
                False,
            ),
            (RuntimeError, "has 3 overlaps for 2 detections x 2 ground-truth boxes"),
        ),
    ],
    "ops.unique_rows": [
        (
            "float rows",
            lambda t: ops.unique_rows(torch.rand(4, 3)),
            (ValueError, "'rows' must be an integer tensor"),
        ),
        (
            "rows that overflow a linear key",
            lambda t: ops.unique_rows(torch.tensor([[0, 2**62], [2**62, 0], [0, 2**62]])),
            ("ok", lambda r: r.tolist() == [[0, 2**62], [2**62, 0]]),
        ),
    ],
    "export": [
        (
            "corrupt ONNX file",
            lambda t: export.check_tensorrt_ops(write(t, "m.onnx", b"\x00garbage" * 9, True)),
            (ValueError, "not a readable ONNX model"),
        ),
        (
            "corrupt ONNX file in onnxruntime",
            lambda t: export.OnnxRuntime(write(t, "m.onnx", b"\x00garbage" * 9, True)),
            (ValueError, "m.onnx: not a loadable ONNX model"),
        ),
        (
            "folder without a manifest",
            lambda t: export.read_manifest(str(t)),
            (FileNotFoundError, "not a geo3d export directory"),
        ),
        (
            "corrupt manifest",
            lambda t: export.read_manifest(os.path.dirname(write(t, "manifest.json", "{oops"))),
            (ValueError, "not a readable manifest"),
        ),
        (
            "manifest of another format",
            lambda t: export.read_manifest(
                os.path.dirname(write(t, "manifest.json", '{"format": "other"}'))
            ),
            (ValueError, "not a geo3d-deploy/1 manifest"),
        ),
        (
            "opset TensorRT cannot parse",
            lambda t: export.export_onnx(None, {}, {}, str(t / "m.onnx"), opset=23),
            (ValueError, "'opset' must be 17 to 20"),
        ),
        (
            "no example scene",
            lambda t: export.export_detector(None, [], str(t)),
            (ValueError, "needs at least one example point cloud"),
        ),
        (
            "slot rows of a 2-D index",
            lambda t: slot_rows(torch.zeros(2, 3, dtype=torch.long), 1),
            (ValueError, "'index' must be (P,)"),
        ),
        (
            "a scene larger than the export",
            lambda t: export.check_profile(
                {"voxels": torch.zeros(50, 4)},
                {
                    "inputs": [{"name": "voxels", "shape": ["voxels", 4]}],
                    "profile": {"voxels": [1, 8, 40]},
                },
            ),
            (ValueError, "outside the exported range 1 to 40"),
        ),
    ],
    "ops.sparse_conv": [
        (
            "repeated voxel",
            lambda t: ops.sparse_conv_neighbors(VOXELS[[0, 1, 0]], VOXELS, [4, 4, 4], 3, 1, 1),
            (ValueError, "'in_coords' has the same voxel twice"),
        ),
        (
            "voxel outside the grid",
            lambda t: ops.sparse_conv_neighbors(VOXELS, VOXELS, [2, 4, 4], 3, 1, 1),
            (ValueError, "'in_coords' has coordinates outside the grid"),
        ),
        (
            "float coordinates",
            lambda t: ops.sparse_conv_output_coords(VOXELS.float(), [4, 4, 4], 3),
            (ValueError, "'coords' must be int32"),
        ),
        (
            "kernel larger than the grid",
            lambda t: ops.sparse_conv_output_coords(VOXELS, [4, 4, 4], 7),
            (ValueError, "does not fit the grid"),
        ),
        (
            "stride 0",
            lambda t: ops.sparse_conv_output_coords(VOXELS, [4, 4, 4], 3, stride=0),
            (ValueError, "'stride' must be at least 1"),
        ),
    ],
    "nn.sparse_conv": [
        (
            "even submanifold kernel",
            lambda t: nn_sparse.SubMConv3d(2, 2, 2),
            (ValueError, "submanifold kernel must be odd"),
        ),
        (
            "inverse convolution without a key",
            lambda t: nn_sparse.SparseConvolution(2, 2, 3, inverse=True),
            (ValueError, "needs the 'indice_key'"),
        ),
        (
            "wrong number of channels",
            lambda t: nn_sparse.SubMConv3d(3, 2, 3)(sparse_voxels()),
            (ValueError, "expects 3 input channels, got 2"),
        ),
        (
            "float64 features, float32 weights",
            lambda t: nn_sparse.SubMConv3d(2, 2, 3)(sparse_voxels(torch.float64)),
            (ValueError, "has torch.float32 weights but the features are torch.float64"),
        ),
        (
            "batch index beyond batch_size",
            lambda t: nn_sparse.SparseConvTensor(torch.zeros(3, 2), VOXELS, [4, 4, 4], 1),
            (ValueError, "batch index 1 for batch_size 1"),
        ),
        (
            "unknown backend",
            lambda t: nn_sparse.SubMConv3d(2, 2, 3, backend="minkowski"),
            (ValueError, "unknown sparse convolution backend 'minkowski'"),
        ),
    ],
    "structures": [
        (
            "boxes of 6 values",
            lambda t: points_in_boxes(torch.rand(5, 3), torch.rand(2, 6)),
            (ValueError, "boxes"),
        ),
        (
            "NaN boxes",
            lambda t: count_points_in_boxes(torch.rand(5, 3), with_nan(torch.rand(2, 7), (0, 3))),
            (ValueError, "NaN"),
        ),
        (
            "face index past the vertices",
            lambda t: check_mesh(torch.rand(3, 3), torch.tensor([[0, 1, 3]])),
            (ValueError, "face"),
        ),
        (
            "non-manifold edge, no repair",
            lambda t: repair_mesh(
                torch.rand(5, 3), torch.tensor([[0, 1, 2], [0, 1, 3], [0, 1, 4]]), repair=False
            ),
            (ValueError, "edge"),
        ),
        (
            "NaN vertices",
            lambda t: edge_features(
                with_nan(torch.rand(4, 3), (1, 0)), mesh_edges(torch.tensor([[0, 1, 2], [0, 2, 3]]))
            ),
            (ValueError, "NaN"),
        ),
        (
            "batch of the wrong length",
            lambda t: packed_to_padded(torch.rand(5, 3), torch.tensor([0, 0, 1])),
            (ValueError, "'batch' (P,)"),
        ),
    ],
    "data.io": [
        (
            "missing file",
            lambda t: io.read_points(str(t / "none.bin")),
            (FileNotFoundError, "none.bin"),
        ),
        (
            "truncated .npy",
            lambda t: io.read_points(truncated_npy(t)),
            (ValueError, "cloud.npy: not a readable .npy array"),
        ),
        (
            "unknown format",
            lambda t: io.read_points(write(t, "a.xyzw", "1 2 3")),
            (ValueError, "unknown point-cloud format"),
        ),
        (
            "corrupt mesh",
            lambda t: io.read_mesh(write(t, "m.obj", b"\x00\x01garbage", binary=True)),
            (ValueError, "m.obj"),
        ),
        (
            "KITTI label with nan",
            lambda t: io.read_kitti_labels(write(t, "l.txt", GOOD_LABEL.replace("1.65", "nan"))),
            (ValueError, "l.txt:1: field 'height' is nan"),
        ),
        (
            "KITTI label with inf",
            lambda t: io.read_kitti_labels(write(t, "l.txt", GOOD_LABEL.replace("46.70", "inf"))),
            (ValueError, "l.txt:1: field 'z' is inf"),
        ),
        (
            "KITTI negative size",
            lambda t: io.read_kitti_labels(write(t, "l.txt", GOOD_LABEL.replace("1.67", "-1.67"))),
            (ValueError, "l.txt:1: Car has non-positive size"),
        ),
        (
            "KITTI DontCare keeps -1 sizes",
            lambda t: io.read_kitti_labels(
                write(
                    t,
                    "l.txt",
                    "DontCare -1 -1 -10 503.89 169.71 590.74 190.13 -1 -1 -1 -1000 -1000 -1000 "
                    "-10\n",
                )
            ),
            ("ok", lambda r: r[0].dimensions == (-1.0, -1.0, -1.0)),
        ),
        (
            "KITTI 14 fields",
            lambda t: io.read_kitti_labels(write(t, "l.txt", GOOD_LABEL.rsplit(" ", 1)[0] + "\n")),
            (ValueError, "l.txt:1: expected 15 or 16 fields"),
        ),
        (
            "binary calibration",
            lambda t: io.read_kitti_calibration(write(t, "c.txt", bytes(range(256)), binary=True)),
            (ValueError, "c.txt: not a text file"),
        ),
        (
            "singular calibration",
            lambda t: io.read_kitti_calibration(
                write(
                    t,
                    "c.txt",
                    KITTI_CALIB.replace("R0_rect: 1 0 0 0 1 0 0 0 1", "R0_rect: 1 0 0 0 0 0 0 0 1"),
                )
            ),
            (ValueError, "c.txt: 'R0_rect' @ 'Tr_velo_to_cam' is singular"),
        ),
        (
            "calibration with nan",
            lambda t: io.read_kitti_calibration(
                write(t, "c.txt", KITTI_CALIB.replace("P2: 700", "P2: nan"))
            ),
            (ValueError, "c.txt:3: NaN or inf in 'P2'"),
        ),
        (
            "image that is not a PNG",
            lambda t: io.read_image_shape(write(t, "000000.png", b"\xff\xd8\xff\xe0" * 8, True)),
            (ValueError, "000000.png: not a PNG image"),
        ),
        (
            "truncated PNG header",
            lambda t: io.read_image_shape(write(t, "000000.png", b"\x89PNG\r\n\x1a\n", True)),
            (ValueError, "000000.png: not a PNG image"),
        ),
        (
            "detections with fewer scores than boxes",
            lambda t: io.lidar_boxes_to_kitti_anno(
                np.zeros((2, 7)),
                ["Car", "Car"],
                [0.5],
                io.read_kitti_calibration(write(t, "c.txt", KITTI_CALIB)),
                (375, 1242),
            ),
            (ValueError, "2 boxes, 2 names, 1 scores"),
        ),
    ],
    "data.datasets": [
        (
            "KITTI root missing",
            lambda t: D.KittiDetection(str(t / "nowhere")),
            (FileNotFoundError, "nowhere"),
        ),
        (
            "KITTI bad label, strict",
            lambda t: D.KittiDetection(kitti_frame(t, GOOD_LABEL.replace("1.65", "nan")))[0],
            (ValueError, "000000.txt:1: field 'height' is nan"),
        ),
        (
            "KITTI missing cloud, strict",
            lambda t: D.KittiDetection(kitti_frame(t, cloud=False))[0],
            (FileNotFoundError, "000000.bin"),
        ),
        (
            "KITTI nan label, skipped",
            lambda t: kitti_skipping(t, bad_label=GOOD_LABEL.replace("1.65", "nan")),
            ("ok", lambda r: r[0]["frame_id"] == "000001" and "'height' is nan" in r[1][0]),
        ),
        (
            "KITTI singular calibration, skipped",
            lambda t: kitti_skipping(t, bad_calib=SINGULAR_CALIB),
            ("ok", lambda r: r[0]["frame_id"] == "000001" and "singular" in r[1][0]),
        ),
        (
            "ModelNetH5 root missing",
            lambda t: D.ModelNetH5(str(t / "nowhere")),
            (FileNotFoundError, "modelnet40_ply_hdf5_2048"),
        ),
        (
            "ScanObjectNN unknown variant",
            lambda t: D.ScanObjectNN(str(t), "OBJ_XX"),
            (ValueError, "OBJ_XX"),
        ),
    ],
    "data.scene_views": [
        (
            "an unknown scene augmentation",
            lambda t: SceneView(_TinyScenes(), ["flip", "mixup"]),
            (ValueError, "unknown scene augmentations ['mixup']"),
        ),
        (
            "ground-truth sampling of a class the data set lacks",
            lambda t: SceneView(_TinyScenes(), ["gt_sampling"], sample_groups={"Truck": 3}),
            (ValueError, "sample_groups names ['Truck'], not classes"),
        ),
        (
            "ground-truth sampling of scenes without objects",
            lambda t: SceneView(_TinyScenes(boxes=False), ["gt_sampling"], progress=False),
            (ValueError, "no labelled object with at least 5 points"),
        ),
    ],
    "pooling": [
        (
            "unknown pooling",
            lambda t: make_pooling("median", 8),
            (ValueError, "unknown pooling 'median'"),
        ),
        (
            "attention without channels",
            lambda t: SetPool("attention"),
            (ValueError, "needs 'channels'"),
        ),
        (
            "mask of the wrong shape",
            lambda t: pool_groups(torch.rand(2, 4, 3), "max", torch.ones(2, 5, dtype=torch.bool)),
            (ValueError, "'mask' must have shape"),
        ),
        (
            "NaN in a masked slot",
            lambda t: AttentionPool(4, 2)(
                torch.tensor([[[1.0] * 4, [NAN] * 4]]), torch.tensor([[True, False]])
            ),
            ("ok", lambda r: bool(torch.isfinite(r).all())),
        ),
        (
            "heads that do not split",
            lambda t: WindowAttentionPool(10, 4, heads=3),
            (ValueError, "do not split into 3 heads"),
        ),
        (
            "duplicate window voxels",
            lambda t: window_slots(torch.tensor([[0, 0, 0, 0], [0, 0, 0, 0]]), (1, 2, 2)),
            (ValueError, "more than once"),
        ),
        (
            "float window coordinates",
            lambda t: window_slots(torch.rand(3, 4), (1, 2, 2)),
            (ValueError, "integer tensor"),
        ),
        (
            "odd official VFE width",
            lambda t: VoxelFeatureEncoder(4, (7, 8), [1, 1, 1], [0, 0, 0, 4, 4, 4]),
            (ValueError, "even"),
        ),
        (
            "a pillar cap of zero points",
            lambda t: VoxelFeatureEncoder(
                4, (8,), [1, 1, 4], [0, 0, -2, 4, 4, 2], max_points_per_voxel=0
            ),
            (ValueError, "'max_points_per_voxel' must be >= 1"),
        ),
        (
            "three pillar caps",
            lambda t: VoxelFeatureEncoder(
                4, (8,), [1, 1, 4], [0, 0, -2, 4, 4, 2], max_voxels=(10, 20, 30)
            ),
            (ValueError, "(training, evaluation) counts"),
        ),
        (
            "more ranks than points",
            lambda t: soft_pool_features(torch.rand(1, 5, 3), 6),
            (ValueError, "num_points"),
        ),
        (
            "unknown MeshPool variant",
            lambda t: MeshPool(0.5, variant="paper"),
            (ValueError, "'variant' must be one of ('official', 'exact')"),
        ),
    ],
    "config": [
        (
            "negative epochs",
            bad_config(train={"epochs": -3}),
            (ValueError, "'train.epochs' = -3: must be an integer >= 1"),
        ),
        (
            "negative lr",
            bad_config(optimizer={"lr": -1}),
            (ValueError, "'optimizer.lr' = -1.0: must be a finite number in (0, inf)"),
        ),
        (
            "batch size 0",
            bad_config(data={"dataset": "synthetic_shapes", "batch_size": 0}),
            (ValueError, "'data.batch_size' = 0"),
        ),
        (
            "eval_every 0",
            bad_config(train={"eval_every": 0}),
            (ValueError, "'train.eval_every' = 0"),
        ),
        (
            "val_fraction 7",
            bad_config(data={"dataset": "modelnet40", "val_fraction": 7.0}),
            (ValueError, "'data.val_fraction' = 7.0: must be a finite number in [0, 1)"),
        ),
        (
            "num_points -5",
            bad_config(data={"dataset": "synthetic_shapes", "num_points": -5}),
            (ValueError, "'data.num_points' = -5"),
        ),
        (
            "select_gamma_on banana",
            bad_config(train={"select_gamma_on": "banana"}),
            (ValueError, "'train.select_gamma_on' = 'banana': must be one of val, test"),
        ),
        (
            "augment amount not a number",
            bad_config(
                data={
                    "dataset": "synthetic_meshes",
                    "augment": ["scale_verts"],
                    "augment_options": {"scale_verts": "hello"},
                }
            ),
            (ValueError, "'data.augment_options.scale_verts'"),
        ),
        (
            "momentum with adam",
            bad_config(optimizer={"name": "adam", "momentum": 0.5}),
            (ValueError, "'optimizer.momentum' = 0.5: is ignored by adam"),
        ),
        (
            "augment_options for points",
            bad_config(
                data={"dataset": "synthetic_shapes", "augment_options": {"scale_verts": 0.1}}
            ),
            (ValueError, "'data.augment_options'"),
        ),
        (
            "features for points",
            bad_config(data={"dataset": "synthetic_shapes", "features": "exact"}),
            (ValueError, "'data.features' = 'exact': is ignored by point data sets"),
        ),
        (
            "unknown dataset",
            bad_config(data={"dataset": "modelnet41"}),
            (ValueError, "'data.dataset' = 'modelnet41'"),
        ),
        (
            "unknown model",
            bad_config(model={"name": "pointnet9"}),
            (ValueError, "'model.name' = 'pointnet9'"),
        ),
        (
            "unknown augmentation",
            bad_config(data={"dataset": "synthetic_shapes", "augment": ["spin"]}),
            (ValueError, "'data.augment[0]' = 'spin'"),
        ),
        (
            "variant for modelnet",
            bad_config(data={"dataset": "modelnet40", "variant": "OBJ_BG"}),
            (ValueError, "only scanobjectnn has variants"),
        ),
        (
            "unknown MeshCNN pool variant",
            bad_config(
                data={"dataset": "synthetic_meshes"},
                model={"name": "meshcnn_classifier", "options": {"pool_variant": "paper"}},
            ),
            (ValueError, "'model.options.pool_variant' = 'paper': must be one of official, exact"),
        ),
        (
            "pool variant for a point model",
            bad_config(model={"name": "point_pn", "options": {"pool_variant": "exact"}}),
            (ValueError, "is a MeshCNN option"),
        ),
        (
            "unknown key",
            bad_config(train={"epoch": 3}),
            (ValueError, "unknown config key 'train.epoch'"),
        ),
    ],
    "engine.checkpoint": [
        (
            "checkpoint whose pickle runs code",
            lambda t: load_checkpoint(code_checkpoint(t)),
            (ValueError, "not a geo3d checkpoint, or it contains code (it names builtins.print)"),
        ),
        (
            "truncated checkpoint",
            lambda t: load_checkpoint(write(t, "w.pt", b"PK\x03\x04broken", True)),
            (ValueError, "w.pt: not a readable checkpoint"),
        ),
        (
            "checkpoint that is a list",
            lambda t: load_checkpoint(saved(t, [torch.zeros(1)])),
            (ValueError, "not a checkpoint (it holds a list)"),
        ),
        (
            "weights of another model",
            lambda t: load_model_weights(torch.nn.Linear(2, 2), saved(t, {"model": {}})),
            (ValueError, "the weights do not fit Linear (2 missing: weight, bias)"),
        ),
        (
            "plain state dict of another project",
            lambda t: load_model_weights(
                torch.nn.Linear(2, 2), saved(t, torch.nn.Linear(2, 2).state_dict())
            ),
            ("ok", lambda state: set(state) == {"weight", "bias"}),
        ),
    ],
}

CASES = [
    pytest.param(call, expected, id=f"{entry}: {name}")
    for entry, rows in ROWS.items()
    for name, call, expected in rows
]


@pytest.mark.parametrize("call,expected", CASES)
def test_bad_input(call, expected, tmp_path):
    kind, detail = expected
    if kind == "ok":
        assert detail(call(tmp_path))
        return
    with pytest.raises(kind) as caught:
        call(tmp_path)
    assert detail in str(caught.value), f"message {str(caught.value)!r} lacks {detail!r}"


def test_the_table_counts():
    rows = [expected for rows in ROWS.values() for _, _, expected in rows]
    correct = sum(kind == "ok" for kind, _ in rows)
    assert len(ROWS) >= 10 and len(rows) >= 80 and correct >= 8


@pytest.mark.parametrize(
    "tool,args,fragment",
    [
        ("train.py", ["--set", "train.epochs=-3"], "'train.epochs' = -3"),
        (
            "train.py",
            ["--set", "data.root=/nowhere", "--set", "data.dataset=modelnet40"],
            "/nowhere",
        ),
        ("test.py", ["MISSING.pt"], "MISSING.pt: no such checkpoint"),
    ],
)
def test_tools_give_one_line_and_a_nonzero_exit(tool, args, fragment, tmp_path):
    config = os.path.join(ROOT, "configs", "pointpn_synthetic.yaml")
    if tool == "test.py":
        args = [config, str(tmp_path / args[0])]
    else:
        args = [config, "--output", str(tmp_path)] + args
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", tool), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], (
        result.stderr
    )
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["trian"], "unknown command 'trian' (did you mean 'train'?)"),
        (["train", "no_such_config"], "no_such_config: no such config file"),
    ],
)
def test_geo3d_command_gives_one_line(args, fragment):
    result = subprocess.run(
        [sys.executable, "-m", "geo3d", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], (
        result.stderr
    )
