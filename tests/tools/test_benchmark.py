import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tool():
    """The ``geo3d benchmark`` command's module."""
    return importlib.import_module("geo3d.benchmarks.benchmark")


def test_models_benchmark_reports_every_rate(tool):
    rows = tool.bench_models(repeats=1, quick=True)
    assert [(model, what) for model, what, _, _ in rows] == [
        ("Point-NN", "encode (training-free)"),
        ("Point-NN", "of which grouping (FPS + kNN)"),
        ("Point-NN", "encode, plain (fused=False)"),
        ("Point-PN", "inference"),
        ("Point-PN", "training step"),
    ]
    assert all(ms > 0 and rate > 0 for _, _, ms, rate in rows)


def test_mesh_benchmark_times_preparation_and_pooling(tool):
    if not os.path.isfile(tool.BUNNY):
        pytest.skip("the shared bunny is not here")
    rows = tool.bench_mesh(repeats=1, quick=True)
    assert [edges for edges, *_ in rows] == sorted(edges for edges, *_ in rows)
    assert all(prep > 0 and plan > 0 and pool > 0 for _, prep, plan, pool, _, _ in rows)


def test_pooling_benchmark_compares_with_the_plain_formulas(tool):
    rows = tool.bench_pooling(repeats=1, quick=True)
    methods = [(what, method) for what, _, method, *_ in rows]
    assert ("SoftPool 2D", "geo3d soft_pool") in methods and (
        "attention pooling",
        "padded dense + mask",
    ) in methods
    assert all(forward > 0 and both > 0 and memory >= 0 for *_, forward, both, memory in rows)


def test_mesh_benchmark_compares_the_collapse_rules(tool):
    if not os.path.isfile(tool.BUNNY):
        pytest.skip("the shared meshes are not here")
    pytest.importorskip("open3d")
    rows = tool.bench_mesh_variants()
    assert [name for name, *_ in rows] == list(tool.VARIANT_MESHES)
    for _, edges, target, official, exact, differ in rows:
        assert target == edges // 2 and official >= target - 2 and exact >= target - 2
        assert 0 <= differ < 100
    assert any(differ > 0 for *_, differ in rows)


def test_boxes_benchmark_compares_with_its_peers(tool):
    rows = tool.bench_boxes(repeats=1, quick=True)
    assert [name for name, *_ in rows] == ["box_iou_bev", "nms_bev", "points_in_boxes"]
    assert all(ms > 0 and (peer_ms is None or peer_ms > 0) for _, _, ms, _, peer_ms in rows)


def test_kitti_eval_benchmark_agrees_with_the_python_loop(tool):
    rows, agree = tool.bench_kitti_eval(quick=True)
    assert agree and rows[0][0] == "kitti_eval" and rows[0][2] > 0 and rows[0][4] > 0


def test_detector_benchmark_times_every_pooling(tool, tmp_path, monkeypatch):
    monkeypatch.setenv("GEO3D_CACHE", str(tmp_path))
    rows = tool.bench_detector(tool.DEFAULT_DETECTOR_CONFIG, repeats=1, quick=True)
    assert [pooling for pooling, *_ in rows] == ["max", "soft", "attention"]
    assert all(rate > 0 and latency > 0 and parameters > 0 for _, rate, latency, parameters in rows)


def test_sparse_benchmark_times_geo3d_and_agrees_with_spconv(tool):
    rows, difference = tool.bench_sparse(repeats=1, quick=True)
    methods = [method for _, _, method, *_ in rows]
    assert methods[0] == "geo3d cpu" and all(forward > 0 for _, _, _, forward, _, _ in rows)
    assert rows[0][4] > 0 and 0 <= rows[0][5] < rows[0][3]  # backward timed; rulebook a part
    if any(m.startswith("spconv") for m in methods):
        assert difference < 1e-3


def test_deploy_benchmark_times_each_stage_in_each_runtime(tool):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    rows = tool.bench_deploy(repeats=1, quick=True)
    stages = {(stage, runtime) for _, _, stage, runtime, _ in rows}
    assert {("core", "torch"), ("core", "onnxruntime"), ("total", "onnxruntime")} <= stages
    assert ("preprocess", "native") in stages and ("postprocess", "native") in stages
    assert all(ms > 0 for *_, ms in rows) and rows[0][1] > 0
