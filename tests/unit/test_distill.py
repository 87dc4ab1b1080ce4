"""Distilling a static embedder: vocabulary, an injected teacher, a folder sentence-transformers loads."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from streams.commands import main
from streams.core.calibration import MODEL_DEFAULTS_FILE, Calibration
from streams.core.embedding import HashingEmbedder, create_embedder
from streams.errors import ConfigurationError
from streams.records import parse_timestamp
from streams.settings import EmbedderSettings, Settings
from streams.tools.distill import (
    UNKNOWN,
    DistillOptions,
    WordSplitter,
    bag_of_words,
    build_tokenizer,
    distill,
    fit_to_documents,
    pca,
    read_corpus,
    select_vocabulary,
)

# A tiny in-test corpus: two events, each told several ways, plus filler that shares no content words.
CORPUS = [
    "زلزله ۵ ریشتری شهرستان راور در استان کرمان را لرزاند",
    "زلزله شدید راور کرمان چند نفر را مصدوم کرد",
    "امدادگران هلال احمر به مناطق زلزله‌زده کرمان رسیدند",
    "پرسپولیس در دربی تهران استقلال را شکست داد",
    "دربی تهران: پرسپولیس دو استقلال یک",
    "هواداران پرسپولیس پیروزی در دربی را جشن گرفتند",
    "قیمت دلار در بازار آزاد تهران بالا رفت",
    "بانک مرکزی نرخ بهره را افزایش داد و قیمت دلار بالا رفت",
] * 2


class CountingTeacher:
    """The hashing embedder, counting the words it was asked to embed (the teacher is injectable)."""

    def __init__(self) -> None:
        self._inner = HashingEmbedder(256)
        self.embedded: list[str] = []
        self.name = "counting-hashing:256"
        self.dimension = 256
        self.default_threshold = 0.3
        self.centered = False

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self._inner.embed(texts)


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CountingTeacher]:
    # "e5" in the name: the declared empty prefix must win over the 'passage: ' guess for e5 models.
    folder = tmp_path_factory.mktemp("distill") / "e5-static"
    teacher = CountingTeacher()
    distill(CORPUS, teacher, folder, DistillOptions(min_count=2, dimensions=16, threshold=0.4))
    return folder, teacher


def test_the_folder_loads_with_sentence_transformers_offline(
    distilled: tuple[Path, CountingTeacher], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = distilled
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(folder)))
    assert embedder.dimension == 16
    vectors = embedder.embed(["زلزله کرمان", "پرسپولیس دربی"])
    assert vectors.shape == (2, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_texts_sharing_words_are_closer_than_unrelated_ones(distilled: tuple[Path, CountingTeacher]) -> None:
    folder, _ = distilled
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(folder)))
    anchor, near, unrelated = embedder.embed(
        ["زلزله راور کرمان را لرزاند", "زلزله شدید کرمان", "پرسپولیس استقلال را در دربی شکست داد"]
    )
    assert float(anchor @ near) > float(anchor @ unrelated) + 0.2


def test_the_folder_declares_its_threshold_centering_and_empty_prefix(
    distilled: tuple[Path, CountingTeacher],
) -> None:
    folder, _ = distilled
    declared = json.loads((folder / MODEL_DEFAULTS_FILE).read_text(encoding="utf-8"))
    assert (declared["threshold"], declared["centered"], declared["prefix"]) == (0.4, True, "")
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(folder)))
    assert (embedder.default_threshold, embedder.centered) == (0.4, True)
    # Distilled for bare normalized text: no 'passage: ' prefix in front of it (nor in its name).
    assert embedder.name == f"sentence-transformers:{folder}@{declared['fingerprint'][:12]}"
    # The worker reads the same defaults without loading the model.
    settings = Settings().model_copy(
        update={"embedder": EmbedderSettings(backend="sentence-transformers", model=str(folder))}
    )
    assert Calibration.declared(settings.embedder) == Calibration(0.4, centered=True)


def test_the_teacher_embeds_each_vocabulary_word_once(distilled: tuple[Path, CountingTeacher]) -> None:
    _, teacher = distilled
    assert len(teacher.embedded) == len(set(teacher.embedded))
    assert "زلزله" in teacher.embedded and "پرسپولیس" in teacher.embedded
    # min_count=2 over a corpus repeated twice: every word qualifies, none is embedded twice.
    assert UNKNOWN not in teacher.embedded


def test_distilling_is_deterministic(tmp_path: Path) -> None:
    options = DistillOptions(min_count=2, dimensions=8)
    first = distill(CORPUS, HashingEmbedder(64), tmp_path / "a", options)
    second = distill(list(reversed(CORPUS)), HashingEmbedder(64), tmp_path / "b", options)
    assert first.fingerprint == second.fingerprint
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (
        tmp_path / "b" / "tokenizer.json"
    ).read_bytes()


def test_unknown_words_add_nothing_to_a_text(distilled: tuple[Path, CountingTeacher]) -> None:
    folder, _ = distilled
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(folder)))
    known, with_unknown = embedder.embed(["زلزله کرمان", "زلزله کرمان واژه‌ای‌ناشناخته"])
    assert float(known @ with_unknown) == pytest.approx(1.0, abs=1e-5)


def test_vocabulary_is_frequency_ranked_with_a_stable_tie_order() -> None:
    counts = Counter({"ب": 3, "الف": 3, "پ": 5, "ت": 1})
    assert select_vocabulary(counts, min_count=2, max_words=10) == ["پ", "الف", "ب"]
    assert select_vocabulary(counts, min_count=1, max_words=2) == ["پ", "الف"]


def test_words_are_cut_as_the_model_cuts_them() -> None:
    text = "رئیس‌جمهور آمریکا، «ترامپ» گفت: ۱۲٪ ICT"
    words = WordSplitter().words(text)
    assert words == ["رئیس\u200cجمهور", "آمریکا", "ترامپ", "گفت", "۱۲", "ict"]
    tokenizer = build_tokenizer(words)
    assert tokenizer.encode(text, add_special_tokens=False).tokens == words


def test_pca_keeps_the_requested_axes_deterministically() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(50, 12)).astype(np.float32)
    reduced = pca(vectors, 4)
    assert reduced.shape == (50, 4)
    assert np.allclose(reduced.mean(axis=0), 0.0, atol=1e-5)
    assert np.array_equal(reduced, pca(vectors.copy(), 4))


def test_corpus_formats(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl.gz"
    with gzip.open(stream, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"text": "خبر اول", "published_at": "2026-05-01T10:00:00+03:30"}) + "\n")
        handle.write("not json\n")
        handle.write(json.dumps({"text": "خبر دوم", "published_at": "2026-06-01T10:00:00+03:30"}) + "\n")
    articles = tmp_path / "articles.json"
    articles.write_text(
        json.dumps([{"title": "عنوان", "abstract": "چکیده", "paragraphs": ["بند یک", "بند دو"], "cat": "x"}]),
        encoding="utf-8",
    )
    lines = tmp_path / "lines.txt"
    lines.write_text("سطر یک\n\nسطر دو\n", encoding="utf-8")
    assert list(read_corpus(stream)) == ["خبر اول", "خبر دوم"]
    assert list(read_corpus(stream, until=parse_timestamp("2026-05-15T00:00:00+03:30"))) == ["خبر اول"]
    assert list(read_corpus(articles)) == ["عنوان\nچکیده\nبند یک\nبند دو"]
    assert [line.strip() for line in read_corpus(lines)] == ["سطر یک", "سطر دو"]
    with pytest.raises(ConfigurationError):
        list(read_corpus(tmp_path / "missing.json"))


def test_distill_command_refuses_a_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["distill", "--corpus", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "m")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_fitting_recovers_word_vectors_that_explain_the_documents() -> None:
    rng = np.random.default_rng(3)
    truth = rng.normal(size=(30, 6))
    documents = [[f"w{index}" for index in rng.choice(30, size=8)] for _ in range(200)]
    index = {f"w{number}": number for number in range(30)}
    bags = bag_of_words(documents, index, 30)
    targets = bags @ truth
    start = rng.normal(size=(30, 6)).astype(np.float32)
    fitted, r2 = fit_to_documents(start, bags, targets, ridge=1e-6, iterations=200)
    assert r2 > 0.999
    assert np.allclose(fitted, truth, atol=1e-2)
    # A strong pull keeps the vectors near the (rescaled) start instead.
    _, pulled_r2 = fit_to_documents(start, bags, targets, ridge=1e3, iterations=200)
    assert pulled_r2 < r2


def test_distilling_with_fit_documents(tmp_path: Path) -> None:
    folder = tmp_path / "fitted"
    report = distill(
        CORPUS,
        HashingEmbedder(64),
        folder,
        DistillOptions(min_count=2, dimensions=16),
        fit_documents=[*CORPUS[:8], "", "only latin words here"],  # refused ones are skipped
    )
    assert report.fit_documents == 8
    assert report.fit_r2 is not None and 0.0 < report.fit_r2 <= 1.0
    declared = json.loads((folder / MODEL_DEFAULTS_FILE).read_text(encoding="utf-8"))
    assert declared["recipe"]["fit_documents"] == 8
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(folder)))
    anchor, near, unrelated = embedder.embed(["زلزله کرمان", "زلزله راور", "دربی پرسپولیس"])
    assert float(anchor @ near) > float(anchor @ unrelated)
