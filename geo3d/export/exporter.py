"""A detector's tensor core to ONNX, with a manifest that says how to feed it.

The core is :meth:`CenterDetector.export_forward`: everything after the index work, which
stays outside (:meth:`CenterDetector.export_inputs`, native ops) as does decoding plus NMS.
The graph is written by PyTorch's dynamo exporter at an opset TensorRT 10 parses (17 to 20),
with the voxel, slot and set counts dynamic, and checked for what TensorRT refuses
(:func:`geo3d.export.check_tensorrt_ops`). The manifest (``manifest.json``) records input
and output names, shapes and dtypes, the shape profile (min / opt / max per dynamic
dimension, what a TensorRT engine is built for), the pre- and postprocessing settings
(through the geo3d config, which rebuilds them), the geo3d and torch versions.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from geo3d.optional import require

MANIFEST = "manifest.json"
ONNX_FILE = "model.onnx"
ENGINE_FILE = "model.plan"
FORMAT = "geo3d-deploy/1"
OPSETS = (17, 20)
OUTPUT_NAMES = ("heatmap", "regression")


def apply_point_cap(detector: nn.Module, max_points_per_voxel: int | None) -> int | None:
    """Cap the points per voxel of ``detector``'s assignment (in place) where it has no cap
    of its own; returns the cap in force (None: every point kept)."""
    assigner = getattr(detector.preprocess, "assigner", None)
    if assigner is None:
        return None
    if assigner.max_points_per_voxel is None and max_points_per_voxel is not None:
        if int(max_points_per_voxel) < 1:
            raise ValueError(f"'max_points_per_voxel' must be >= 1 (got {max_points_per_voxel})")
        assigner.max_points_per_voxel = int(max_points_per_voxel)
    return assigner.max_points_per_voxel


class ExportCore(nn.Module):
    """``forward(*inputs)`` = ``detector.export_forward(*inputs)``: the module an exporter
    traces (parameters shared with the detector)."""

    def __init__(self, detector: nn.Module):
        super().__init__()
        self.detector = detector

    def forward(self, *inputs: torch.Tensor):
        return self.detector.export_forward(*inputs)


@dataclass
class ExportResult:
    """Paths written by :func:`export_detector` and the manifest as a dict."""

    directory: str
    onnx_path: str
    manifest: dict
    engine_path: str | None = None


def shape_profile(
    examples: list[dict[str, torch.Tensor]], axes: dict[str, dict[int, str]], limits: dict
) -> dict[str, list[int]]:
    """Per dynamic dimension ``[min, opt, max]``: min 1, opt the largest example's size, max
    ``limits[name]`` where given (the voxel cap), else 4 times opt."""
    sizes: dict[str, list[int]] = {}
    for inputs in examples:
        for name, tensor_axes in axes.items():
            for axis, dim in tensor_axes.items():
                sizes.setdefault(dim, []).append(int(inputs[name].shape[axis]))
    profile = {}
    for dim, seen in sizes.items():
        opt = max(seen)
        high = int(limits.get(dim) or 4 * opt)
        if dim == "rows_per_voxel":
            high = max(high, opt)
        profile[dim] = [1, min(opt, high), max(high, 1)]
    return profile


def _dim_size(inputs: dict, axes: dict, dim: str) -> int:
    """The size of the dynamic dimension ``dim`` in ``inputs``."""
    for name, tensor_axes in axes.items():
        for axis, named in tensor_axes.items():
            if named == dim:
                return int(inputs[name].shape[axis])
    raise ValueError(f"no input has a {dim!r} dimension")


def describe(name: str, tensor: torch.Tensor, axes: dict[int, str]) -> dict:
    shape = [axes.get(i, int(s)) for i, s in enumerate(tensor.shape)]
    return {"name": name, "dtype": str(tensor.dtype).removeprefix("torch."), "shape": shape}


@contextlib.contextmanager
def quiet_exporter_logs():
    """The exporter's and its optimiser's notes ("torchvision is not installed", "Skipping
    constant folding...") silenced for the duration: they are not a user's business."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(
    detector: nn.Module,
    inputs: dict[str, torch.Tensor],
    axes: dict[str, dict[int, str]],
    path: str,
    opset: int = 18,
) -> None:
    """Trace ``detector.export_forward`` on ``inputs`` (an ordered dict) and write ``path``,
    with the dimensions named in ``axes`` dynamic."""
    from torch.export import Dim

    if not OPSETS[0] <= opset <= OPSETS[1]:
        raise ValueError(f"'opset' must be {OPSETS[0]} to {OPSETS[1]} (TensorRT 10) (got {opset})")
    for name, tensor_axes in axes.items():
        for axis in tensor_axes:
            if inputs[name].shape[axis] < 2:
                raise ValueError(
                    f"the example scene is too small to export: input {name!r} has "
                    f"{inputs[name].shape[axis]} along its dynamic axis {axis} (need >= 2)"
                )
    dims: dict[str, Dim] = {}
    dynamic = tuple(
        {axis: dims.setdefault(dim, Dim(dim, min=1)) for axis, dim in axes.get(name, {}).items()}
        for name in inputs
    )
    for module in ("onnx", "onnxscript"):  # torch.onnx's exporter imports them deep inside
        require(module, "exporting to ONNX")
    core = ExportCore(detector).eval()
    with quiet_exporter_logs(), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's own chatter (axis renames, pytree)
        program = torch.onnx.export(
            core,
            tuple(inputs.values()),
            input_names=list(inputs),
            output_names=list(OUTPUT_NAMES),
            dynamic_shapes=(dynamic,),
            dynamo=True,
            opset_version=opset,
            verbose=False,
        )
    program.save(path)


def export_detector(
    detector: nn.Module,
    examples: list[torch.Tensor],
    directory: str,
    config: dict | None = None,
    classes: list[str] | None = None,
    opset: int = 18,
    max_voxels: int | None = None,
    fp16: bool = False,
    build_engine: bool = True,
    static: bool = False,
    max_points_per_voxel: int | None = None,
) -> ExportResult:
    """Export ``detector``'s core to ``directory``: ``model.onnx``, ``manifest.json`` and,
    where TensorRT is installed and ``build_engine``, ``model.plan``.

    Args:
        detector: a :class:`geo3d.models.CenterDetector` with an export path (weights
            loaded); put in evaluation mode.
        examples: point clouds ``(P, C)`` of one scene each: the first is traced, all of
            them set the profile's opt sizes.
        config, classes: the geo3d config as a dict and the class names (written to the
            manifest; they rebuild the pre- and postprocessing at inference).
        max_voxels: the profile's largest voxel count (default: the detector's evaluation
            cap, else 4 times the largest example's).
        fp16: build the engine in half precision (the ONNX stays float32).
        static: fixed shapes, every dynamic size at the profile's max (inputs are padded to
            it at inference: :func:`geo3d.models.deploy_inputs.pad_inputs`); the default
            keeps voxel, slot and set counts dynamic.
        max_points_per_voxel: for a detector that keeps every point of a voxel, an
            optional deployed cap (each voxel keeps its first this many points, hard
            voxelization's rule), applied in every runtime's preprocessing
            (:func:`apply_point_cap`). The default keeps every point: the exported encoder is
            exact for voxels of any size (:mod:`geo3d.pooling.slot_rows`).
    """
    from geo3d import __version__
    from geo3d.export.tensorrt_ops import check_tensorrt_ops
    from geo3d.models.deploy_inputs import pad_inputs

    if not examples:
        raise ValueError("export_detector needs at least one example point cloud")
    detector = detector.eval()
    cap = apply_point_cap(detector, max_points_per_voxel)
    os.makedirs(directory, exist_ok=True)
    with torch.no_grad():
        prepared = [detector.export_inputs(points) for points in examples]
    inputs, axes = prepared[0]
    if max_voxels is None:
        caps = getattr(getattr(detector.preprocess, "assigner", None), "max_voxels", None)
        max_voxels = caps[1] if caps else 4 * max(_dim_size(*p, "voxels") for p in prepared)
    limits = detector.export_limits(max_voxels)
    canvas_cells = detector.encoder.canvas_cells
    # A dynamic size of 0 or 1 in the traced example would be specialised by torch.export:
    # pad such axes to 2 (padding never reaches an output: pad_inputs).
    sizes = {d: max(2, int(inputs[n].shape[a])) for n, ax in axes.items() for a, d in ax.items()}
    inputs = pad_inputs(inputs, axes, sizes, canvas_cells)
    prepared[0] = (inputs, axes)
    profile = shape_profile([p[0] for p in prepared], axes, limits)
    if static:
        sizes = {dim: high for dim, (_, _, high) in profile.items()}
        inputs = pad_inputs(inputs, axes, sizes, canvas_cells)
        profile = {dim: [size, size, size] for dim, size in sizes.items()}
        traced_axes = {}
    else:
        traced_axes = axes
    onnx_path = os.path.join(directory, ONNX_FILE)
    export_onnx(detector, inputs, traced_axes, onnx_path, opset)
    check_tensorrt_ops(onnx_path)
    with torch.no_grad():
        outputs = detector.export_forward(*inputs.values())
    out_axes = {}  # the canvas is fixed by the grid
    manifest = {
        "format": FORMAT,
        "geo3d_version": __version__,
        "torch_version": torch.__version__,
        "opset": opset,
        "model": type(detector).__name__,
        "static": static,
        "max_points_per_voxel": cap,
        "canvas_cells": canvas_cells,
        "dynamic_axes": {n: {str(a): d for a, d in ax.items()} for n, ax in axes.items()},
        "inputs": [describe(n, t, traced_axes.get(n, {})) for n, t in inputs.items()],
        "outputs": [describe(n, t, out_axes) for n, t in zip(OUTPUT_NAMES, outputs)],
        "profile": profile,
        "postprocess": dict(getattr(detector, "decode_options", {})),
        "precision": "fp16" if fp16 else "fp32",
        "config": config,
        "classes": list(classes) if classes is not None else None,
    }
    engine_path = None
    if build_engine:
        from geo3d.export.tensorrt import build_tensorrt_engine, tensorrt_available

        if tensorrt_available():
            engine_path = os.path.join(directory, ENGINE_FILE)
            build_tensorrt_engine(onnx_path, engine_path, manifest, fp16=fp16)
            manifest["engine"] = ENGINE_FILE
    with open(os.path.join(directory, MANIFEST), "w") as handle:
        json.dump(manifest, handle, indent=2)
    return ExportResult(directory, onnx_path, manifest, engine_path)


def read_manifest(directory: str) -> dict:
    """The manifest of an export directory, checked: a readable JSON object of this format."""
    path = os.path.join(directory, MANIFEST)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{directory}: not a geo3d export directory (no {MANIFEST})")
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a readable manifest ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} manifest")
    for key in ("inputs", "outputs", "profile", "config"):
        if key not in manifest:
            raise ValueError(f"{path}: the manifest has no {key!r}")
    return manifest
