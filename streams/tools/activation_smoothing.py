"""Activation smoothing before dynamic int8 quantization (SmoothQuant, Xiao et al. 2023).

Dynamic quantization gives each activation tensor one int8 scale, set by its largest value. An e5 (XLM-R)
layer's inputs have a few channels that run 10-40x larger than the rest (on the special tokens), so that
one scale rounds every ordinary channel coarsely. For each weight-bearing MatMul input ``x`` (feeding
weights ``W``), a per-channel factor ``s`` moves that range into the weights: ``x W = (x / s)(s W)``, with

    s_j = max|x_j| ** alpha / max|W_j| ** (1 - alpha),

``max|x_j|`` measured by running the fp32 graph on calibration inputs. The division is one ``Mul`` node per
input tensor (shared by the MatMuls that read it), the multiplication is folded into the weights, so the
fp32 function is unchanged up to float rounding and the quantizer sees flatter activations.
Deterministic: the same graph and calibration inputs give the same scales.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# export-onnx's int8 parity (mean cosine to fp32), event-trained / plain e5, by alpha: 0: 0.964 / 0.9970,
# 0.5: 0.983 / 0.9984, 0.75: 0.984 / 0.9994, 0.9: 0.981 / 0.9989 (docs/PERFORMANCE.md).
DEFAULT_ALPHA = 0.75
_FLOOR = 1e-5  # a channel that is never active (or a zero weight row) keeps a finite factor


@dataclass(frozen=True, slots=True)
class SmoothingReport:
    alpha: float
    calibration_inputs: int
    smoothed_inputs: int  # activation tensors divided by a per-channel factor
    smoothed_matmuls: int  # MatMuls whose weights took the factor
    largest_factor: float


def smooth_matmul_inputs(
    model: Any, calibration: Sequence[dict[str, np.ndarray[Any, Any]]], alpha: float, threads: int = 2
) -> SmoothingReport:
    """Rewrite ``model`` (an ``onnx.ModelProto``, fp32) in place; ``calibration`` are its input feeds."""
    import onnx
    from onnx import helper, numpy_helper

    if not calibration:
        raise ValueError("activation smoothing needs at least one calibration input")
    weights = {initializer.name: initializer for initializer in model.graph.initializer}
    targets = [
        node
        for node in model.graph.node
        if node.op_type == "MatMul" and node.input[1] in weights and len(weights[node.input[1]].dims) == 2
    ]
    readers_of: dict[str, list[Any]] = {}  # first-use order: deterministic
    for node in targets:
        readers_of.setdefault(node.input[0], []).append(node)
    inputs = list(readers_of)
    largest = _channel_maxima(model, inputs, calibration, threads)

    factors: dict[str, np.ndarray[Any, Any]] = {}
    for name, readers in readers_of.items():
        matrices = [numpy_helper.to_array(weights[node.input[1]]) for node in readers]
        weight_max = np.max(np.stack([np.abs(matrix).max(axis=1) for matrix in matrices]), axis=0)
        factor = np.maximum(largest[name], _FLOOR) ** alpha / np.maximum(weight_max, _FLOOR) ** (1 - alpha)
        factors[name] = factor.astype(np.float32)
        for node, matrix in zip(readers, matrices, strict=True):
            scaled = (matrix * factors[name][:, None]).astype(np.float32)
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(scaled, node.input[1]))

    nodes = list(model.graph.node)
    for name in inputs:
        divisor = f"{name}/smoothing_inverse"
        smoothed = f"{name}/smoothed"
        model.graph.initializer.append(
            numpy_helper.from_array((1.0 / factors[name]).astype(np.float32), divisor)
        )
        for node in readers_of[name]:
            node.input[0] = smoothed
        first_reader = min(index for index, node in enumerate(nodes) if smoothed in node.input)
        divide = helper.make_node("Mul", [name, divisor], [smoothed], name=f"{name}/smoothing")
        nodes.insert(first_reader, divide)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    onnx.checker.check_model(model)
    return SmoothingReport(
        alpha=alpha,
        calibration_inputs=len(calibration),
        smoothed_inputs=len(inputs),
        smoothed_matmuls=len(targets),
        largest_factor=round(float(max((float(f.max()) for f in factors.values()), default=1.0)), 4),
    )


def _channel_maxima(
    model: Any, names: Sequence[str], calibration: Sequence[dict[str, np.ndarray[Any, Any]]], threads: int
) -> dict[str, np.ndarray[Any, Any]]:
    """Per channel (last axis), the largest absolute value each named tensor takes over the calibration."""
    import onnx
    import onnxruntime

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        probe.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    largest: dict[str, np.ndarray[Any, Any]] = {}
    for feed in calibration:
        for name, value in zip(names, session.run(list(names), feed), strict=True):
            channel_max = np.abs(np.asarray(value)).reshape(-1, np.shape(value)[-1]).max(axis=0)
            largest[name] = np.maximum(largest[name], channel_max) if name in largest else channel_max
    return largest
