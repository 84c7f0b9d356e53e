"""Runtimes behind one interface, and the whole inference path around them.

A :class:`Runtime` maps the core's named inputs to ``(heatmap, regression)``: PyTorch
(:class:`TorchRuntime`, the detector's own ``export_forward``), onnxruntime
(:class:`OnnxRuntime`, CPU, and CUDA where its provider is present) and TensorRT
(:class:`TensorRTRuntime`, where installed). :class:`DeployedDetector` runs the same native
preprocessing (:meth:`CenterDetector.export_inputs`) and decoding around any of them, so
every runtime gives boxes the same way.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from geo3d.export.exporter import ENGINE_FILE, ONNX_FILE, apply_point_cap, read_manifest
from geo3d.models.deploy_inputs import pad_inputs

RUNTIMES = ("torch", "onnxruntime", "tensorrt")


class Runtime:
    """``__call__(inputs: dict name -> tensor) -> (heatmap (1, K, H, W), regression (1, R,
    H, W))`` as CPU float32 tensors."""

    name = "runtime"

    def __call__(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class TorchRuntime(Runtime):
    """The detector's own core in PyTorch (on the detector's device)."""

    name = "torch"

    def __init__(self, detector: nn.Module):
        self.detector = detector.eval()

    @torch.no_grad()
    def __call__(self, inputs):
        device = next(self.detector.parameters()).device
        outputs = self.detector.export_forward(*(t.to(device) for t in inputs.values()))
        return tuple(o.float().cpu() for o in outputs)


class OnnxRuntime(Runtime):
    """An exported ``model.onnx`` in onnxruntime: ``providers`` default to CUDA where
    onnxruntime has it and a GPU is present, else the CPU."""

    name = "onnxruntime"

    def __init__(self, onnx_path: str, providers: list[str] | None = None):
        from geo3d.optional import require

        onnxruntime = require("onnxruntime", "the onnxruntime runtime")
        if not os.path.isfile(onnx_path):
            raise FileNotFoundError(f"{onnx_path}: no such ONNX file")
        if providers is None:
            available = onnxruntime.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider",) if p in available]
            providers.append("CPUExecutionProvider")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # errors only: shape-inference notes are noise here
        try:
            self.session = onnxruntime.InferenceSession(onnx_path, options, providers=providers)
        except Exception as error:  # noqa: BLE001 (onnxruntime's errors derive from Exception)
            reason = " ".join(str(error).split())[:200]
            raise ValueError(f"{onnx_path}: not a loadable ONNX model ({reason})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs):
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise ValueError(f"the ONNX core needs inputs {missing} (given {list(inputs)})")
        feed = {n: inputs[n].detach().cpu().numpy() for n in self.input_names}
        return tuple(torch.from_numpy(o) for o in self.session.run(None, feed))


class TensorRTRuntime(Runtime):
    """A TensorRT engine (``model.plan``) built by :func:`geo3d.export.export_detector`."""

    name = "tensorrt"

    def __init__(self, engine_path: str):
        from geo3d.export.tensorrt import TensorRTEngine, require_tensorrt

        require_tensorrt()  # says first what is missing on this machine
        if not os.path.isfile(engine_path):
            raise FileNotFoundError(
                f"{engine_path}: no engine (export on a machine with TensorRT and a GPU)"
            )
        self.engine = TensorRTEngine(engine_path)

    def __call__(self, inputs):
        return tuple(o.float().cpu() for o in self.engine(inputs))


def check_profile(inputs: dict[str, torch.Tensor], manifest: dict) -> None:
    """Every dynamic size of ``inputs`` inside the manifest's profile, or a ValueError that
    names the input, the size and the limit."""
    profile = manifest["profile"]
    for spec in manifest["inputs"]:
        name = spec["name"]
        if name not in inputs:
            raise ValueError(f"input {name!r} is missing (the export expects {spec['shape']})")
        tensor = inputs[name]
        if tensor.dim() != len(spec["shape"]):
            raise ValueError(
                f"input {name!r} has shape {tuple(tensor.shape)}, the export {spec['shape']}"
            )
        for axis, dim in enumerate(spec["shape"]):
            size = int(tensor.shape[axis])
            if isinstance(dim, str):
                low, _, high = profile[dim]
                if not low <= size <= high:
                    remedy = (
                        "export with --max-points-per-voxel, or export again from larger "
                        "example scenes"
                        if dim in ("points", "rows", "rows_per_voxel")
                        else "export again with a larger --max-voxels, or cap the voxels"
                    )
                    raise ValueError(
                        f"this scene has {size} {dim} (input {name!r}), outside the exported "
                        f"range {low} to {high}: {remedy}"
                    )
            elif size != dim:
                raise ValueError(f"input {name!r} has {size} along axis {axis}, the export {dim}")


class DeployedDetector:
    """``points (P, C)`` of one scene -> ``{"boxes" (n, 7), "scores" (n,), "labels" (n,)}``:
    the detector's index work, ``runtime`` for the core, the detector's decoding and NMS."""

    def __init__(self, detector: nn.Module, runtime: Runtime, manifest: dict | None = None):
        self.detector = detector.eval()
        self.runtime = runtime
        self.manifest = manifest
        if manifest is not None:  # the export's points cap, in every runtime's preprocessing
            apply_point_cap(self.detector, manifest.get("max_points_per_voxel"))

    def prepare(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """The core's inputs for one scene: the index work, padded to the export's sizes
        where it has fixed shapes, checked against its profile."""
        with torch.no_grad():
            inputs, axes = self.detector.export_inputs(points)
        if self.manifest is not None:
            profile = self.manifest["profile"]
            if self.manifest.get("static"):
                sizes = {d: low for d, (low, _, _) in profile.items()}
            else:  # an empty scene (no point in range) pads up to the profile's minimum
                sizes = {
                    d: max(int(inputs[n].shape[a]), profile[d][0])
                    for n, ax in axes.items()
                    for a, d in ax.items()
                }
            inputs = pad_inputs(inputs, axes, sizes, self.manifest["canvas_cells"])
            check_profile(inputs, self.manifest)
        return inputs

    def postprocess(self, outputs) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            return self.detector.predict(tuple(outputs))[0]

    def __call__(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.postprocess(self.runtime(self.prepare(points)))


def detector_from_manifest(manifest: dict) -> nn.Module:
    """The detector the manifest's config builds (no weights: its pre- and postprocessing
    have none)."""
    from geo3d.models import create_model

    config, classes = manifest["config"], manifest.get("classes")
    if not isinstance(config, dict) or "model" not in config or not classes:
        raise ValueError("the manifest does not say which model it holds (config, classes)")
    model = config["model"]
    return create_model(model["name"], num_classes=len(classes), **model.get("options", {}))


def load_deployed(
    directory: str, runtime: str = "onnxruntime", detector: nn.Module | None = None
) -> DeployedDetector:
    """A :class:`DeployedDetector` for an export directory with the named runtime
    (``onnxruntime`` or ``tensorrt``; ``torch`` needs ``detector`` with its weights)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r} (known: {', '.join(RUNTIMES)})")
    manifest = read_manifest(directory)
    if runtime == "torch":
        if detector is None:
            raise ValueError("the torch runtime needs the detector with its weights")
        return DeployedDetector(detector, TorchRuntime(detector), manifest)
    shell = detector if detector is not None else detector_from_manifest(manifest)
    if runtime == "onnxruntime":
        core = OnnxRuntime(os.path.join(directory, ONNX_FILE))
    else:
        core = TensorRTRuntime(os.path.join(directory, manifest.get("engine", ENGINE_FILE)))
    return DeployedDetector(shell, core, manifest)
