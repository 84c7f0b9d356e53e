"""geo3d.export.check_tensorrt_ops: every forbidden pattern is caught on a small graph that
holds it, naming the node; graphs TensorRT imports pass."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from geo3d.export import TensorRTIncompatibleError, check_tensorrt_ops, tensorrt_problems  # noqa: E402

FLOAT, INT64 = TensorProto.FLOAT, TensorProto.INT64


def model(nodes, inputs, outputs, initializers=(), opset=18, value_info=()):
    graph = helper.make_graph(
        list(nodes),
        "g",
        list(inputs),
        list(outputs),
        list(initializers),
        value_info=list(value_info),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def tensor(name, dtype=FLOAT, shape=("n",)):
    return helper.make_tensor_value_info(name, dtype, list(shape))


def const(name, values):
    return numpy_helper.from_array(np.asarray(values), name)


def single(op, inputs, initializers=(), graph_inputs=None, **attributes):
    """A one-node graph ``x (n) -> y`` of ``op``."""
    node = helper.make_node(op, list(inputs), ["y"], name="suspect", **attributes)
    graph_inputs = graph_inputs or [tensor("x")]
    return model([node], graph_inputs, [tensor("y")], initializers)


FORBIDDEN = {
    "unique": lambda: single("Unique", ["x"]),
    "nonzero": lambda: single("NonZero", ["x"]),
    "scatternd_add": lambda: single(
        "ScatterND",
        ["x", "i", "u"],
        graph_inputs=[tensor("x"), tensor("i", INT64, ("k", 1)), tensor("u", FLOAT, ("k",))],
        reduction="add",
    ),
    "scatter_elements_max": lambda: single(
        "ScatterElements",
        ["x", "i", "u"],
        graph_inputs=[tensor("x"), tensor("i", INT64, ("k",)), tensor("u", FLOAT, ("k",))],
        reduction="max",
    ),
    "topk_large": lambda: model(
        [helper.make_node("TopK", ["x", "k"], ["y", "i"], name="suspect")],
        [tensor("x")],
        [tensor("y"), tensor("i", INT64)],
        [const("k", np.array([4000], dtype=np.int64))],
    ),
    "topk_dynamic_k": lambda: model(
        [helper.make_node("TopK", ["x", "k"], ["y", "i"], name="suspect")],
        [tensor("x"), tensor("k", INT64, (1,))],
        [tensor("y"), tensor("i", INT64)],
    ),
    "sequence": lambda: single("SequenceConstruct", ["x"]),
    "string": lambda: single(
        "StringNormalizer", ["x"], graph_inputs=[tensor("x", TensorProto.STRING)]
    ),
    "double_input": lambda: single("Relu", ["x"], graph_inputs=[tensor("x", TensorProto.DOUBLE)]),
    "cast_to_double": lambda: single("Cast", ["x"], to=TensorProto.DOUBLE),
    "reduce_axes_input": lambda: single(
        "ReduceMax", ["x", "axes"], graph_inputs=[tensor("x"), tensor("axes", INT64, (1,))]
    ),
    "slice_axes_input": lambda: single(
        "Slice",
        ["x", "s", "e", "axes"],
        [const("s", np.array([0])), const("e", np.array([2]))],
        graph_inputs=[tensor("x"), tensor("axes", INT64, (1,))],
    ),
    "custom_domain": lambda: model(
        [helper.make_node("Voxelize", ["x"], ["y"], name="suspect", domain="geo3d")],
        [tensor("x")],
        [tensor("y")],
    ),
    "opset_too_new": lambda: model(
        [helper.make_node("Relu", ["x"], ["y"], name="suspect")],
        [tensor("x")],
        [tensor("y")],
        opset=21,
    ),
    "loop_scan_output": lambda: model(
        [
            helper.make_node(
                "Loop",
                ["trip", "cond", "x"],
                ["y", "scanned"],
                name="suspect",
                body=helper.make_graph(
                    [
                        helper.make_node("Identity", ["c_in"], ["c_out"]),
                        helper.make_node("Identity", ["v_in"], ["v_out"]),
                        helper.make_node("Identity", ["v_in"], ["s_out"]),
                    ],
                    "body",
                    [
                        tensor("i", INT64, ()),
                        tensor("c_in", TensorProto.BOOL, ()),
                        tensor("v_in"),
                    ],
                    [tensor("c_out", TensorProto.BOOL, ()), tensor("v_out"), tensor("s_out")],
                ),
            )
        ],
        [tensor("x"), tensor("trip", INT64, ()), tensor("cond", TensorProto.BOOL, ())],
        [tensor("y"), tensor("scanned", FLOAT, ("t", "n"))],
    ),
    "unique_in_subgraph": lambda: model(
        [
            helper.make_node(
                "If",
                ["cond"],
                ["y"],
                name="outer",
                then_branch=helper.make_graph(
                    [helper.make_node("Unique", ["x"], ["u"], name="suspect")],
                    "then",
                    [],
                    [tensor("u")],
                ),
                else_branch=helper.make_graph(
                    [helper.make_node("Identity", ["x"], ["v"])], "else", [], [tensor("v")]
                ),
            )
        ],
        [tensor("x"), tensor("cond", TensorProto.BOOL, ())],
        [tensor("y")],
    ),
}


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_each_forbidden_pattern_is_caught_and_named(case):
    graph = FORBIDDEN[case]()
    problems = tensorrt_problems(graph)
    assert problems, case
    with pytest.raises(TensorRTIncompatibleError) as error:
        check_tensorrt_ops(graph)
    text = str(error.value)
    if case == "double_input":
        assert "'x'" in text and "double" in text
    elif case == "opset_too_new":
        assert "opset 21" in text
    else:
        assert "'suspect'" in text, text


def test_what_tensorrt_imports_passes():
    """A plain write (ScatterND without reduction), a TopK with a small constant K, reductions
    with constant axes and a Loop without scan outputs are fine."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("ScatterND", ["r", "i", "u"], ["s"]),
        helper.make_node("TopK", ["s", "k"], ["y", "idx"]),
        helper.make_node("ReduceMax", ["s", "axes"], ["m"], keepdims=0),
        helper.make_node("Slice", ["s", "st", "en", "ax"], ["sl"]),
    ]
    graph = model(
        nodes,
        [tensor("x"), tensor("i", INT64, ("k", 1)), tensor("u", FLOAT, ("k",))],
        [tensor("y"), tensor("idx", INT64), tensor("m", FLOAT, ()), tensor("sl")],
        [
            const("k", np.array([100], dtype=np.int64)),
            const("axes", np.array([0], dtype=np.int64)),
            const("st", np.array([0])),
            const("en", np.array([2])),
            const("ax", np.array([0])),
        ],
    )
    assert tensorrt_problems(graph) == []
    check_tensorrt_ops(graph)


def test_a_file_that_is_not_onnx_gets_a_named_error(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"\x00not a protobuf at all\xff" * 10)
    with pytest.raises(ValueError, match="broken.onnx: not a readable ONNX model"):
        check_tensorrt_ops(str(path))
    with pytest.raises(FileNotFoundError, match="no such ONNX file"):
        check_tensorrt_ops(str(tmp_path / "missing.onnx"))
