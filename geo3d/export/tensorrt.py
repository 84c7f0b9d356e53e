"""TensorRT through its documented Python API, imported only when used: building an engine
from an exported ONNX with the manifest's shape profile (fp32 or fp16), and running it on
CUDA tensors. Where TensorRT (or CUDA) is absent, :func:`tensorrt_available` says False and
everything else raises :class:`TensorRTUnavailableError` with one line saying so."""

from __future__ import annotations

import importlib.util

import torch

WORKSPACE_BYTES = 4 << 30


class TensorRTUnavailableError(RuntimeError):
    """TensorRT or a CUDA device is missing."""


def tensorrt_available() -> bool:
    """True where ``import tensorrt`` would work and torch sees a CUDA device."""
    return importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()


def require_tensorrt():
    """The ``tensorrt`` module, or :class:`TensorRTUnavailableError` saying what is missing."""
    if importlib.util.find_spec("tensorrt") is None:
        raise TensorRTUnavailableError(
            "TensorRT is not installed (pip install tensorrt on a machine with an NVIDIA GPU); "
            "the ONNX file works with onnxruntime"
        )
    if not torch.cuda.is_available():
        raise TensorRTUnavailableError("TensorRT needs a CUDA device and torch sees none")
    import tensorrt

    return tensorrt


def profile_shapes(manifest: dict) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Input name -> ``(min, opt, max)`` shapes from the manifest's named dimensions."""
    profile = manifest["profile"]
    shapes = {}
    for spec in manifest["inputs"]:
        per_level = []
        for level in range(3):
            per_level.append(
                tuple(profile[d][level] if isinstance(d, str) else int(d) for d in spec["shape"])
            )
        shapes[spec["name"]] = tuple(per_level)
    return shapes


def build_tensorrt_engine(
    onnx_path: str, engine_path: str, manifest: dict, fp16: bool = False
) -> None:
    """Parse ``onnx_path``, build an engine for the manifest's profile, write ``engine_path``."""
    trt = require_tensorrt()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch: the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(onnx_path):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValueError(f"{onnx_path}: TensorRT's ONNX parser refused it: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in profile_shapes(manifest).items():
        profile.set_shape(name, low, opt, high)
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"{onnx_path}: TensorRT could not build an engine (see its log)")
    with open(engine_path, "wb") as handle:
        handle.write(serialized)


class TensorRTEngine:
    """A deserialized engine: ``__call__(inputs: dict name -> tensor) -> tuple of outputs``
    (CUDA tensors, in the engine's output order)."""

    def __init__(self, engine_path: str):
        trt = require_tensorrt()
        self._trt = trt
        with open(engine_path, "rb") as handle:
            data = handle.read()
        self.engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(data)
        if self.engine is None:
            raise ValueError(f"{engine_path}: not an engine this TensorRT can load")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.OUTPUT
        self.outputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]

    def _torch_dtype(self, name: str) -> torch.dtype:
        trt = self._trt
        table = {
            trt.float32: torch.float32,
            trt.float16: torch.float16,
            trt.int32: torch.int32,
            trt.int64: torch.int64,
            trt.bool: torch.bool,
        }
        return table[self.engine.get_tensor_dtype(name)]

    def __call__(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        keep = []
        for name, tensor in inputs.items():
            tensor = tensor.to("cuda", self._torch_dtype(name)).contiguous()
            keep.append(tensor)
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        results = []
        for name in self.outputs:
            shape = tuple(self.context.get_tensor_shape(name))
            out = torch.empty(shape, dtype=self._torch_dtype(name), device="cuda")
            self.context.set_tensor_address(name, out.data_ptr())
            results.append(out)
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT failed to run the engine")
        stream.synchronize()
        return tuple(results)
