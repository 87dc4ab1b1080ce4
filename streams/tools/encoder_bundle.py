"""``python -m streams bundle-encoder``: the files of a trained encoder that ship in the package.

A fresh clone gets the event-trained encoder without a model hub: its int8 ONNX graph (vocabulary pruned,
about 34 MB), its tokenizer and its declared usage are committed under ``streams/models/event-encoder/``
(``BUNDLED_ENCODER``), with ``SHA256SUMS``. The fp32 weights stay out (132 MB); ``train-encoder`` and
``export-onnx`` rebuild them, and this command then rebuilds the bundle byte for byte (``--check``
compares a fresh build with the committed checksums). Selected with
``STREAMS_EMBEDDER__BACKEND=onnx STREAMS_EMBEDDER__MODEL=bundled:event-encoder``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from streams.core.onnx_embedding import EXPORT_REPORT, GRAPH_FILES, ONNX_FOLDER
from streams.errors import ConfigurationError
from streams.settings import BUNDLED_MODELS
from streams.tools.e5_export import file_sha256

BUNDLED_ENCODER = BUNDLED_MODELS / "event-encoder"
CHECKSUMS = "SHA256SUMS"
# What the onnx backend reads: the int8 graph and its export report, the tokenizer, the window, the usage.
BUNDLED_FILES = (
    "tokenizer.json",
    "sentence_bert_config.json",
    "streams-embedder.json",
    f"{ONNX_FOLDER}/{GRAPH_FILES['int8']}",
    f"{ONNX_FOLDER}/{EXPORT_REPORT}",
)


def checksums_of(folder: Path) -> dict[str, str]:
    return {name: file_sha256(folder / name) for name in BUNDLED_FILES}


def read_checksums(folder: Path) -> dict[str, str]:
    lines = (folder / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ", 1) for line in lines if line.strip())}


def bundle_encoder(model: Path, destination: Path) -> dict[str, str]:
    """Copy the shipped files of ``model`` (a trained folder export-onnx completed) to ``destination``."""
    missing = [name for name in BUNDLED_FILES if not (model / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"{model} lacks {', '.join(missing)}: train it with python -m streams train-encoder and add its "
            f"graphs with python -m streams export-onnx --model {model}"
        )
    for name in BUNDLED_FILES:
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model / name, destination / name)
    sums = checksums_of(destination)
    text = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
    (destination / CHECKSUMS).write_text(text, encoding="utf-8")
    return sums


def differences(model: Path, bundled: Path) -> list[str]:
    """The shipped files whose fresh build (in ``model``) differs from the committed checksums."""
    expected, built = read_checksums(bundled), checksums_of(model)
    return [name for name in BUNDLED_FILES if built[name] != expected.get(name)]
