"""``python -m streams export-onnx``: an e5-style sentence-transformers folder's int8 (and fp32) ONNX graphs.

1. The folder's transformer with mean pooling is traced to ONNX (opset 17; batch and length dynamic).
2. ONNX Runtime's transformer optimizer fuses attention, layer norms and GELU (``model.onnx``, fp32).
3. Dynamic quantization: int8 weights per output channel, activations quantized at run time
   (``model.int8.onnx``): the matrix products use the cores' int8 instructions (VNNI). Before it, the
   activations' outlier channels are moved into the weights (``activation_smoothing``), calibrated on
   ``PARITY_TEXTS``.
4. Parity: both graphs' vectors against the folder's own sentence-transformers vectors on a few Persian
   texts, recorded in ``onnx/export.json`` with the files' checksums (which name the graphs in caches).

Deterministic: the same folder and library versions give the same files.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streams.core.calibration import embedder_prefix
from streams.core.onnx_embedding import EXPORT_REPORT, GRAPH_FILES, ONNX_FOLDER, OnnxEmbedder, Precision
from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings
from streams.tools.activation_smoothing import DEFAULT_ALPHA, SmoothingReport, smooth_matmul_inputs
from streams.tools.e5_export import file_sha256

# Texts the parity check embeds (written for it; short and long, to cover windows too).
PARITY_TEXTS = (
    "زلزله‌ای به بزرگی ۵٫۸ ریشتر حوالی کرمان را لرزاند و نیروهای امدادی به منطقه اعزام شدند.",
    "بانک مرکزی نرخ سود سپرده‌ها را افزایش داد؛ قیمت دلار در بازار آزاد کاهش یافت.",
    "تیم ملی فوتبال ایران در دیداری دوستانه با نتیجه دو بر یک پیروز شد.",
    "آتش‌سوزی در یک مرکز خرید در تهران مهار شد و گزارشی از تلفات جانی منتشر نشده است. " * 30,
)


@dataclass(frozen=True, slots=True)
class OnnxExportReport:
    sha256: dict[str, str]
    megabytes: dict[str, float]
    parity_mean_cosine: dict[str, float]
    parity_min_cosine: dict[str, float]
    smoothing: SmoothingReport | None
    versions: dict[str, str]


def export_onnx(model: Path, threads: int = 2, smoothing_alpha: float = DEFAULT_ALPHA) -> OnnxExportReport:
    """Write ``model/onnx/`` and return what was measured (``smoothing_alpha`` 0: no smoothing)."""
    import onnx
    import onnxruntime
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from sentence_transformers import SentenceTransformer

    if not (model / "modules.json").is_file() or not (model / "tokenizer.json").is_file():
        raise ConfigurationError(
            f"{model} is not a sentence-transformers folder with a tokenizer.json: build one with "
            "python -m streams export-e5"
        )
    torch.set_num_threads(threads)
    encoder = SentenceTransformer(str(model), device="cpu")
    network: Any = encoder[0].auto_model
    network.eval()
    config = network.config
    folder = model / ONNX_FOLDER
    folder.mkdir(exist_ok=True)
    traced = folder / "traced.onnx"
    example = encoder.tokenizer(["passage: سلام"], return_tensors="pt")
    dynamic = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    # The tracer warns that shape checks become constants: an encoder's mask always spans its input and
    # it is never causal, so those constants hold for every input.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=torch.jit._trace.TracerWarning)
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            _mean_pooled(network),
            (example["input_ids"], example["attention_mask"]),
            str(traced),
            input_names=["input_ids", "attention_mask"],
            output_names=["pooled"],
            dynamic_axes={**dynamic, "pooled": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    fp32 = folder / GRAPH_FILES["fp32"]
    int8 = folder / GRAPH_FILES["int8"]
    # The optimizer and the quantizer narrate every fusion and tensor at INFO on the root logger.
    with _quiet_root_logger():
        optimized = optimizer.optimize_model(
            str(traced),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=1,
        )
        optimized.save_model_to_file(str(fp32))
        traced.unlink()
        source, smoothing = fp32, None
        if smoothing_alpha > 0:
            graph = onnx.load(str(fp32))
            feeds = _calibration_feeds(model, encoder.max_seq_length or 512)
            smoothing = smooth_matmul_inputs(graph, feeds, smoothing_alpha, threads)
            source = folder / "smoothed.onnx"
            onnx.save(graph, str(source))
        quantize_dynamic(
            str(source),
            str(int8),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The fused operators (com.microsoft domain) defeat shape inference: their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        if source != fp32:
            source.unlink()

    prefix = embedder_prefix(EmbedderSettings(backend="sentence-transformers", model=str(model)))
    reference = _reference_vectors(model, prefix, threads)
    means: dict[str, float] = {}
    minimums: dict[str, float] = {}
    precisions: tuple[Precision, ...] = ("int8", "fp32")
    for precision in precisions:
        name = GRAPH_FILES[precision]
        vectors = OnnxEmbedder(str(model), prefix, threads=threads, precision=precision).embed(PARITY_TEXTS)
        cosines = (vectors * reference).sum(axis=1)
        means[name], minimums[name] = round(float(cosines.mean()), 6), round(float(cosines.min()), 6)
    report = OnnxExportReport(
        sha256={name: file_sha256(folder / name) for name in GRAPH_FILES.values()},
        megabytes={name: round((folder / name).stat().st_size / 1e6, 1) for name in GRAPH_FILES.values()},
        parity_mean_cosine=means,
        parity_min_cosine=minimums,
        smoothing=smoothing,
        versions={"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
    )
    (folder / EXPORT_REPORT).write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def _calibration_feeds(model: Path, max_seq_length: int) -> list[dict[str, np.ndarray[Any, Any]]]:
    """``PARITY_TEXTS`` as the embedder feeds them (prefix, specials, one window each): the outlier channels
    sit on the special tokens and the same few channels for any Persian text, so a few texts find them."""
    from tokenizers import Tokenizer

    tokenizer: Any = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    prefix = embedder_prefix(EmbedderSettings(backend="sentence-transformers", model=str(model)))
    start, end = tokenizer.token_to_id("<s>"), tokenizer.token_to_id("</s>")
    feeds = []
    for text in PARITY_TEXTS:
        ids = tokenizer.encode(prefix + text, add_special_tokens=False).ids[: max_seq_length - 2]
        tokens = np.array([[start, *ids, end]], dtype=np.int64)
        feeds.append({"input_ids": tokens, "attention_mask": np.ones_like(tokens)})
    return feeds


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _reference_vectors(model: Path, prefix: str, threads: int) -> np.ndarray[Any, Any]:
    from streams.core.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(str(model), prefix=prefix, threads=threads).embed(PARITY_TEXTS)


def _mean_pooled(network: Any) -> Any:
    """The transformer's token states averaged over the attention mask (what the folder's Pooling does),
    as a module to trace."""
    import torch

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = network

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.network(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled: torch.Tensor = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return pooled

    return MeanPooled()
