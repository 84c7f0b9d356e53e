"""The TensorRT engine builder against a stand-in for TensorRT's Python API (TensorRT cannot
be installed here): the documented calls in order, the manifest's profile for every input,
FP16 only when asked, the parser's errors named. Where the real ``tensorrt`` is importable
and a GPU is present, the CUDA tests build and run real engines instead."""

import sys
import types

import pytest
import torch

from geo3d.export import tensorrt as trt_module

MANIFEST = {
    "inputs": [
        {"name": "points", "dtype": "float32", "shape": ["points", 4]},
        {"name": "voxels", "dtype": "int64", "shape": ["voxels", 4]},
    ],
    "profile": {"points": [1, 1000, 4000], "voxels": [1, 100, 400]},
}


def fake_tensorrt(calls, parse_ok=True):
    """A module with the attributes build_tensorrt_engine uses, recording each call."""
    module = types.ModuleType("tensorrt")

    class Logger:
        WARNING = 2

        def __init__(self, level):
            calls.append(("Logger", level))

    class Profile:
        def set_shape(self, name, low, opt, high):
            calls.append(("set_shape", name, low, opt, high))

    class Config:
        def set_memory_pool_limit(self, pool, size):
            calls.append(("workspace", size))

        def set_flag(self, flag):
            calls.append(("flag", flag))

        def add_optimization_profile(self, profile):
            calls.append(("add_profile",))

    class Builder:
        def __init__(self, logger):
            calls.append(("Builder",))

        def create_network(self, flags):
            calls.append(("network", flags))
            return object()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            calls.append(("build",))
            return b"engine-bytes"

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            pass

        def parse_from_file(self, path):
            calls.append(("parse", path))
            return parse_ok

        def get_error(self, i):
            return "In node 3 (Unique): unsupported"

    module.Logger, module.Builder, module.OnnxParser = Logger, Builder, OnnxParser
    module.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
    module.BuilderFlag = types.SimpleNamespace(FP16="fp16")
    return module


@pytest.fixture
def with_fake_tensorrt(monkeypatch):
    calls = []

    def install(parse_ok=True):
        monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt(calls, parse_ok))
        monkeypatch.setattr(trt_module.importlib.util, "find_spec", lambda name: object())
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        return calls

    return install


@pytest.mark.parametrize("fp16", [False, True])
def test_the_engine_is_built_for_the_manifest_profile(with_fake_tensorrt, tmp_path, fp16):
    calls = with_fake_tensorrt()
    engine = tmp_path / "model.plan"
    trt_module.build_tensorrt_engine(str(tmp_path / "m.onnx"), str(engine), MANIFEST, fp16)
    assert engine.read_bytes() == b"engine-bytes"
    shapes = [c for c in calls if c[0] == "set_shape"]
    assert shapes == [
        ("set_shape", "points", (1, 4), (1000, 4), (4000, 4)),
        ("set_shape", "voxels", (1, 4), (100, 4), (400, 4)),
    ]
    assert (("flag", "fp16") in calls) is fp16
    order = [c[0] for c in calls if c[0] in ("parse", "add_profile", "build")]
    assert order == ["parse", "add_profile", "build"]


def test_a_parser_refusal_is_named(with_fake_tensorrt, tmp_path):
    with_fake_tensorrt(parse_ok=False)
    with pytest.raises(ValueError, match=r"m.onnx: TensorRT's ONNX parser refused it: .*Unique"):
        trt_module.build_tensorrt_engine(str(tmp_path / "m.onnx"), str(tmp_path / "e"), MANIFEST)


def test_without_tensorrt_the_error_says_so(monkeypatch):
    monkeypatch.setattr(trt_module.importlib.util, "find_spec", lambda name: None)
    assert not trt_module.tensorrt_available()
    with pytest.raises(trt_module.TensorRTUnavailableError, match="TensorRT is not installed"):
        trt_module.require_tensorrt()
