"""Deployment of detectors: the tensor core to ONNX (and a TensorRT engine where TensorRT
is installed) with the index work kept outside it, an operator check for what TensorRT
refuses, and runtimes (PyTorch, onnxruntime, TensorRT) behind one interface."""

from geo3d.export.exporter import ExportResult, export_detector, export_onnx, read_manifest
from geo3d.export.runtime import (
    RUNTIMES,
    DeployedDetector,
    OnnxRuntime,
    Runtime,
    TensorRTRuntime,
    TorchRuntime,
    check_profile,
    load_deployed,
)
from geo3d.export.tensorrt import TensorRTUnavailableError, tensorrt_available
from geo3d.export.tensorrt_ops import (
    OpProblem,
    TensorRTIncompatibleError,
    check_tensorrt_ops,
    tensorrt_problems,
)

__all__ = [
    "RUNTIMES",
    "DeployedDetector",
    "ExportResult",
    "OnnxRuntime",
    "OpProblem",
    "Runtime",
    "TensorRTIncompatibleError",
    "TensorRTRuntime",
    "TensorRTUnavailableError",
    "TorchRuntime",
    "check_profile",
    "check_tensorrt_ops",
    "export_detector",
    "export_onnx",
    "load_deployed",
    "read_manifest",
    "tensorrt_available",
    "tensorrt_problems",
]
