"""The hardware's limit for the encoder: int8 and fp32 matrix products at e5-small's own shapes.

The engine is the one the int8 path runs on (ONNX Runtime's MLAS kernels: ``MatMulInteger`` on uint8 x
int8, which uses VNNI where the cores have it, and ``MatMul`` on fp32). One encoder layer's six products
(query, key, value, output: hidden x hidden; the feed-forward pair: hidden x intermediate and back) at a
post's token count run back to back; throughput is their operations over their time. An encoder pass of T
tokens costs ``encoder_operations(T)``; the int8 throughput over the stream's mean cost per post is the
rate the hardware allows, and ``embed_share_of_hardware`` is an embedder's posts/s over that rate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class EncoderShape:
    layers: int = 12
    hidden: int = 384
    intermediate: int = 1536


E5_SMALL = EncoderShape()


def encoder_operations(tokens: int, shape: EncoderShape = E5_SMALL) -> float:
    """Multiply-adds x 2 of one encoder pass: the linear layers and the attention products."""
    hidden, intermediate = shape.hidden, shape.intermediate
    linear = 2 * tokens * (4 * hidden * hidden + 2 * hidden * intermediate)
    attention = 2 * 2 * tokens * tokens * hidden  # scores and the weighted sum of values
    return float(shape.layers * (linear + attention))


def _layer_products(shape: EncoderShape) -> list[tuple[int, int]]:
    hidden, intermediate = shape.hidden, shape.intermediate
    return [(hidden, hidden)] * 4 + [(hidden, intermediate), (intermediate, hidden)]


def _session(precision: str, tokens: int, shape: EncoderShape, threads: int) -> tuple[Any, dict[str, Any]]:
    """A graph of one layer's products on independent inputs (so that no product waits on another's
    rounding), and its inputs."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    generator = np.random.default_rng(0)
    nodes, inputs, outputs, initializers = [], [], [], []
    feeds: dict[str, Any] = {}
    for index, (rows, columns) in enumerate(_layer_products(shape)):
        name = f"x{index}"
        weight: np.ndarray[Any, Any]
        if precision == "int8":
            feeds[name] = generator.integers(0, 255, size=(tokens, rows), dtype=np.uint8)
            weight = generator.integers(-127, 127, size=(rows, columns), dtype=np.int8)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.UINT8, [tokens, rows]))
            outputs.append(helper.make_tensor_value_info(f"y{index}", TensorProto.INT32, [tokens, columns]))
            nodes.append(helper.make_node("MatMulInteger", [name, f"w{index}"], [f"y{index}"]))
        else:
            feeds[name] = generator.standard_normal((tokens, rows), dtype=np.float32)
            weight = generator.standard_normal((rows, columns), dtype=np.float32)
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [tokens, rows]))
            outputs.append(helper.make_tensor_value_info(f"y{index}", TensorProto.FLOAT, [tokens, columns]))
            nodes.append(helper.make_node("MatMul", [name, f"w{index}"], [f"y{index}"]))
        initializers.append(numpy_helper.from_array(weight, name=f"w{index}"))
    graph = helper.make_graph(nodes, f"layer-{precision}", inputs, outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session, feeds


def measure_matmul(
    threads: int, tokens: int = 128, seconds: float = 2.0, shape: EncoderShape = E5_SMALL
) -> dict[str, float]:
    """Operations per second (in G) of one layer's products, int8 and fp32, measured side by side."""
    per_run = sum(2.0 * tokens * rows * columns for rows, columns in _layer_products(shape))
    figures: dict[str, float] = {"tokens": float(tokens)}
    for precision in ("int8", "fp32"):
        session, feeds = _session(precision, tokens, shape, threads)
        session.run(None, feeds)  # warm-up: allocations, kernel choice
        runs, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds or runs < 3:
            session.run(None, feeds)
            runs += 1
        figures[f"{precision}_gops"] = round(per_run * runs / elapsed / 1e9, 1)
    return figures


def allowed_posts_per_s(
    int8_gops: float, token_counts: Sequence[int], shape: EncoderShape = E5_SMALL
) -> float:
    """Posts per second the int8 throughput allows for posts of these token counts (capped at the
    encoder's 512-token window per pass)."""
    if not token_counts:
        return 0.0
    costs = [encoder_operations(min(count, 512), shape) * max(1, -(-count // 512)) for count in token_counts]
    return round(int8_gops * 1e9 / float(np.mean(costs)), 1)
