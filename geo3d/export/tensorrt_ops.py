"""What TensorRT 10 refuses or handles badly in an ONNX graph, in one place, with where each
rule comes from; :func:`check_tensorrt_ops` walks a graph (subgraphs included) and names every
node that breaks one.

Sources: ONNX-TensorRT's operator support matrix (``docs/operators.md``: the supported opset
range, the operators marked unsupported, ``axes`` that must be initializers), TensorRT's
``ITopKLayer`` documentation (K at most 3840), and what was measured exporting detectors
(``shared/NOTES.md``: scatter reductions are exported wrong or refused, ``Unique`` does not
exist, data-dependent shapes break engine building). geo3d keeps index work out of the graph
(:mod:`geo3d.models.deploy_inputs`), so an exported core breaks none of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from geo3d.optional import require

# TensorRT 10.x parses the default ONNX domain from opset 9 to 20 (ONNX-TensorRT operators.md).
TENSORRT_OPSETS = (9, 20)
# The ITopKLayer limit.
TOPK_MAX_K = 3840

# op type -> why (ONNX-TensorRT operators.md marks them unsupported; the sequence and string
# ops have no TensorRT tensor type at all).
UNSUPPORTED_OPS = {
    "Unique": "TensorRT has no Unique (compute unique keys and inverses in preprocess)",
    "NonZero": "NonZero has a data-dependent output shape: do the selection in preprocess",
    "Compress": "data-dependent output shape (TensorRT does not import Compress)",
    "StringNormalizer": "string tensors do not exist in TensorRT",
    "StringConcat": "string tensors do not exist in TensorRT",
    "StringSplit": "string tensors do not exist in TensorRT",
    "RegexFullMatch": "string tensors do not exist in TensorRT",
    "TfIdfVectorizer": "TensorRT does not import TfIdfVectorizer",
    "Hardmax": "TensorRT does not import Hardmax",
    "MaxUnpool": "TensorRT does not import MaxUnpool",
    "Multinomial": "TensorRT does not import Multinomial",
    "RandomNormal": "TensorRT does not import RandomNormal",
    "RandomNormalLike": "TensorRT does not import RandomNormalLike",
    "Det": "TensorRT does not import Det",
    "Optional": "optional types do not exist in TensorRT",
    "OptionalGetElement": "optional types do not exist in TensorRT",
    "OptionalHasElement": "optional types do not exist in TensorRT",
}
SEQUENCE_PREFIXES = ("Sequence", "SplitToSequence", "ConcatFromSequence")
# Ops whose ``axes`` input TensorRT needs as a constant (ONNX-TensorRT: "axes must be an
# initializer"): the reduction and shape ops that take axes as an input since opset 13 / 18.
AXES_INPUT = {
    "ReduceMax": 1,
    "ReduceMin": 1,
    "ReduceSum": 1,
    "ReduceMean": 1,
    "ReduceProd": 1,
    "ReduceL1": 1,
    "ReduceL2": 1,
    "ReduceLogSum": 1,
    "ReduceLogSumExp": 1,
    "ReduceSumSquare": 1,
    "Squeeze": 1,
    "Unsqueeze": 1,
    "Slice": 3,
    "Pad": 3,
}
DOUBLE = 11  # onnx.TensorProto.DOUBLE


@dataclass(frozen=True)
class OpProblem:
    """One node TensorRT would refuse: its name, type and why."""

    node: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"node {self.node!r} ({self.op_type}): {self.reason}"


class TensorRTIncompatibleError(ValueError):
    """An ONNX graph with nodes TensorRT would refuse (:func:`check_tensorrt_ops`)."""


def _load(model):
    onnx = require("onnx", "checking an ONNX graph")

    if isinstance(model, str | os.PathLike):
        path = os.fspath(model)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such ONNX file")
        try:
            return onnx.load(path, load_external_data=False)
        except Exception as error:  # protobuf's DecodeError and friends
            raise ValueError(f"{path}: not a readable ONNX model ({error})") from None
    return model


def _attribute(node, name: str, default=None):
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _constants(graph, outer: dict) -> dict:
    """Name -> numpy array of the graph's initializers and Constant outputs (and the outer
    scopes', for subgraphs)."""
    from onnx import numpy_helper

    values = dict(outer)
    for tensor in graph.initializer:
        values[tensor.name] = numpy_helper.to_array(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            value = _attribute(node, "value")
            if value is not None:
                values[node.output[0]] = numpy_helper.to_array(value)
            else:  # value_ints, value_int, value_float...: constant either way
                values[node.output[0]] = None
    return values


def _doubles(graph) -> list[str]:
    typed = [*graph.input, *graph.output, *graph.value_info]
    names = [v.name for v in typed if v.type.tensor_type.elem_type == DOUBLE]
    names += [t.name for t in graph.initializer if t.data_type == DOUBLE]
    return names


def _graph_problems(graph, outer_constants: dict) -> list[OpProblem]:
    import onnx

    problems = []
    constants = _constants(graph, outer_constants)
    for name in _doubles(graph):
        problems.append(
            OpProblem(name, "tensor", "double precision (TensorRT casts it down or refuses it)")
        )
    for node in graph.node:
        name, op = node.name or (node.output[0] if node.output else "?"), node.op_type
        if node.domain not in ("", "ai.onnx"):
            problems.append(
                OpProblem(name, op, f"custom domain {node.domain!r} needs a TensorRT plugin")
            )
        elif op in UNSUPPORTED_OPS:
            problems.append(OpProblem(name, op, UNSUPPORTED_OPS[op]))
        elif op.startswith(SEQUENCE_PREFIXES):
            problems.append(OpProblem(name, op, "sequence types do not exist in TensorRT"))
        elif op in ("ScatterND", "ScatterElements") and _attribute(
            node, "reduction", b"none"
        ) not in (
            b"none",
            "none",
        ):
            reduction = _attribute(node, "reduction")
            reduction = reduction.decode() if isinstance(reduction, bytes) else reduction
            problems.append(
                OpProblem(
                    name,
                    op,
                    f"reduction {reduction!r}: scatter reductions are exported wrong or refused "
                    "(write each cell once, or reduce in preprocess)",
                )
            )
        elif op == "TopK":
            k = constants.get(node.input[1]) if len(node.input) > 1 else None
            if k is None:
                problems.append(OpProblem(name, op, "K must be a constant (an initializer)"))
            elif int(k.reshape(-1)[0]) >= TOPK_MAX_K:
                problems.append(
                    OpProblem(
                        name,
                        op,
                        f"K = {int(k.reshape(-1)[0])} >= {TOPK_MAX_K}, TensorRT's TopK limit",
                    )
                )
        elif op == "Loop":
            carried = len(node.input) - 2
            if len(node.output) > carried:
                problems.append(
                    OpProblem(name, op, "scan outputs of a Loop have a data-dependent length")
                )
        elif op == "Cast" and _attribute(node, "to") == DOUBLE:
            problems.append(OpProblem(name, op, "cast to double precision"))
        if op in AXES_INPUT and len(node.input) > AXES_INPUT[op]:
            axes = node.input[AXES_INPUT[op]]
            if axes and axes not in constants:
                problems.append(
                    OpProblem(
                        name,
                        op,
                        f"axes input {axes!r} is not a constant (TensorRT needs an initializer)",
                    )
                )
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                problems += _graph_problems(attribute.g, constants)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    problems += _graph_problems(subgraph, constants)
    return problems


def tensorrt_problems(model) -> list[OpProblem]:
    """Every node of ``model`` (an ``onnx.ModelProto`` or a path) that TensorRT 10 would
    refuse or import badly, with why; empty when there is none."""
    model = _load(model)
    problems = []
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            low, high = TENSORRT_OPSETS
            if not low <= entry.version <= high:
                problems.append(
                    OpProblem(
                        "model",
                        "opset",
                        f"opset {entry.version} is outside TensorRT 10's {low} to {high}",
                    )
                )
    return problems + _graph_problems(model.graph, {})


def check_tensorrt_ops(model) -> None:
    """Raise :class:`TensorRTIncompatibleError` naming every node TensorRT would refuse (see
    :func:`tensorrt_problems`); return quietly otherwise."""
    problems = tensorrt_problems(model)
    if problems:
        where = os.fspath(model) if isinstance(model, str | os.PathLike) else "the graph"
        lines = "\n".join(f"  - {p}" for p in problems)
        raise TensorRTIncompatibleError(
            f"{where}: {len(problems)} node(s) TensorRT cannot import:\n{lines}"
        )
