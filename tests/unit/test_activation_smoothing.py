"""Activation smoothing before int8 quantization, on a small graph with an outlier channel (no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic

from streams.tools.activation_smoothing import smooth_matmul_inputs

WIDTH, HIDDEN, TOKENS = 16, 12, 10


def graph() -> onnx.ModelProto:
    """x -> (MatMul A, MatMul B) -> sum -> MatMul C: one input read by two MatMuls, and a chained one."""
    rng = np.random.default_rng(0)
    weights = [
        numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
        for name, shape in (("A", (WIDTH, HIDDEN)), ("B", (WIDTH, HIDDEN)), ("C", (HIDDEN, 4)))
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "A"], ["a"], name="first"),
        helper.make_node("MatMul", ["x", "B"], ["b"], name="second"),
        helper.make_node("Add", ["a", "b"], ["h"], name="sum"),
        helper.make_node("MatMul", ["h", "C"], ["y"], name="third"),
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "outliers",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, None, WIDTH])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, None, 4])],
            weights,
        ),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    return model


def inputs(seed: int, count: int) -> list[dict[str, np.ndarray[Any, Any]]]:
    rng = np.random.default_rng(seed)
    feeds = []
    for _ in range(count):
        x = rng.standard_normal((1, TOKENS, WIDTH)).astype(np.float32)
        x[0, 0, 3] *= 60.0  # one channel of one token runs far larger, as on e5's special tokens
        feeds.append({"x": x})
    return feeds


def run(model: onnx.ModelProto | Path, feeds: list[dict[str, np.ndarray[Any, Any]]]) -> np.ndarray[Any, Any]:
    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(["y"], feed)[0] for feed in feeds])


def int8_error(model: onnx.ModelProto, folder: Path, name: str, feeds: list[dict[str, Any]]) -> float:
    fp32, int8 = folder / f"{name}.onnx", folder / f"{name}.int8.onnx"
    onnx.save(model, str(fp32))
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True)
    return float(np.abs(run(int8, feeds) - run(graph(), feeds)).mean())


def test_smoothing_keeps_the_fp32_function_and_reports_what_it_changed() -> None:
    model = graph()
    report = smooth_matmul_inputs(model, inputs(1, 4), alpha=0.75, threads=1)
    held_out = inputs(2, 3)
    np.testing.assert_allclose(run(model, held_out), run(graph(), held_out), rtol=1e-4, atol=1e-4)
    assert (report.smoothed_inputs, report.smoothed_matmuls, report.calibration_inputs) == (2, 3, 4)
    assert report.largest_factor > 1.0
    # One Mul per smoothed input, placed before the MatMuls that read it.
    muls = [node for node in model.graph.node if node.op_type == "Mul"]
    assert len(muls) == 2
    order = [node.name for node in model.graph.node]
    assert order.index(muls[0].name) < order.index("first")


def test_smoothing_lowers_the_int8_error_on_an_outlier_channel(tmp_path: Path) -> None:
    held_out = inputs(2, 3)
    plain = int8_error(graph(), tmp_path, "plain", held_out)
    smoothed_model = graph()
    smooth_matmul_inputs(smoothed_model, inputs(1, 4), alpha=0.75, threads=1)
    smoothed = int8_error(smoothed_model, tmp_path, "smoothed", held_out)
    assert smoothed < 0.7 * plain, (smoothed, plain)


def test_the_same_graph_and_inputs_give_the_same_scales() -> None:
    first, second = graph(), graph()
    smooth_matmul_inputs(first, inputs(1, 4), alpha=0.75, threads=1)
    smooth_matmul_inputs(second, inputs(1, 4), alpha=0.75, threads=2)
    assert first.SerializeToString() == second.SerializeToString()


def test_smoothing_needs_calibration_inputs() -> None:
    with pytest.raises(ValueError, match="calibration"):
        smooth_matmul_inputs(graph(), [], alpha=0.75)
