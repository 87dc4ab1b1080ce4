"""The persistent embedding cache: the inner embedder's vectors, each text computed once, saved exactly."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from streams.core.embedding import CachingEmbedder, Embedder, HashingEmbedder, Matrix

TEXTS = ["زلزله در کرمان", "دربی تهران", "قیمت دلار", "زلزله در کرمان", "دربی تهران"]


class Counting:
    """An embedder that records every batch it is asked to embed."""

    def __init__(self, inner: Embedder | None = None) -> None:
        self.inner = inner if inner is not None else HashingEmbedder(64)
        self.calls: list[list[str]] = []

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def default_threshold(self) -> float:
        return self.inner.default_threshold

    @property
    def centered(self) -> bool:
        return self.inner.centered

    @property
    def texts_embedded(self) -> list[str]:
        return [text for call in self.calls for text in call]

    def embed(self, texts: Sequence[str]) -> Matrix:
        self.calls.append(list(texts))
        return self.inner.embed(texts)


class Awkward:
    """Vectors with values a lossy encoding would change: thirds, a subnormal, -0.0, a huge number."""

    def __init__(self, name: str = "awkward:5", centered: bool = True) -> None:
        self.name = name
        self.centered = centered

    dimension = 5
    default_threshold = 0.123

    def embed(self, texts: Sequence[str]) -> Matrix:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:4], "little")
            rows.append([1 / 3, np.float32(1e-45), -0.0, 3.4e38, seed / 7])
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)


def test_is_an_embedder(tmp_path: Path) -> None:
    assert isinstance(CachingEmbedder(HashingEmbedder(64), tmp_path / "cache.tsv"), Embedder)


def test_same_vectors_as_the_inner_embedder_in_input_order(tmp_path: Path) -> None:
    cache = CachingEmbedder(Counting(), tmp_path / "cache.tsv")
    vectors = cache.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 64)
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, HashingEmbedder(64).embed(TEXTS))
    # Duplicates within the batch get the same row.
    np.testing.assert_array_equal(vectors[0], vectors[3])
    np.testing.assert_array_equal(vectors[1], vectors[4])
    assert not np.array_equal(vectors[0], vectors[1])


def test_each_distinct_text_is_computed_once(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachingEmbedder(inner, tmp_path / "cache.tsv")
    cache.embed(TEXTS)
    assert len(inner.calls) == 1
    assert sorted(inner.texts_embedded) == sorted(set(TEXTS))
    # Later batches only compute what is new.
    again = cache.embed(["قیمت دلار", "خبر تازه", "زلزله در کرمان", "خبر تازه"])
    assert inner.calls[1:] == [["خبر تازه"]]
    np.testing.assert_array_equal(
        again, HashingEmbedder(64).embed(["قیمت دلار", "خبر تازه", "زلزله در کرمان", "خبر تازه"])
    )
    cache.embed(TEXTS)
    assert len(inner.calls) == 2


def test_saved_vectors_serve_a_new_cache_without_the_inner_embedder(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    first = CachingEmbedder(Counting(), path)
    vectors = first.embed(TEXTS)
    first.save()
    inner = Counting()
    second = CachingEmbedder(inner, path)
    np.testing.assert_array_equal(second.embed(TEXTS), vectors)
    np.testing.assert_array_equal(second.embed(list(reversed(TEXTS))), vectors[::-1])
    assert inner.calls == []


def test_vectors_round_trip_exactly(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    texts = ["یک", "دو", "سه"]
    first = CachingEmbedder(Awkward(), path)
    vectors = first.embed(texts)
    # Compared byte for byte: -0.0 and the subnormal must survive, not just compare equal.
    assert vectors.tobytes() == Awkward().embed(texts).tobytes()
    first.save()
    inner = Counting(Awkward())
    reloaded = CachingEmbedder(inner, path).embed(texts)
    assert reloaded.dtype == np.float32
    assert reloaded.tobytes() == vectors.tobytes()
    assert inner.calls == []


def test_save_appends_only_new_vectors(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    cache = CachingEmbedder(Counting(), path)
    cache.embed(TEXTS)
    cache.save()
    assert len(path.read_text(encoding="ascii").splitlines()) == 3  # three distinct texts
    cache.save()  # nothing new: nothing written
    cache.embed(["قیمت دلار", "خبر تازه"])
    cache.save()
    assert len(path.read_text(encoding="ascii").splitlines()) == 4
    # A second cache on the file appends to it, and a third sees both.
    second = CachingEmbedder(Counting(), path)
    second.embed(["خبر دیگر"])
    second.save()
    inner = Counting()
    np.testing.assert_array_equal(
        CachingEmbedder(inner, path).embed([*TEXTS, "خبر تازه", "خبر دیگر"]),
        HashingEmbedder(64).embed([*TEXTS, "خبر تازه", "خبر دیگر"]),
    )
    assert inner.calls == []


def test_save_without_new_vectors_writes_no_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    cache = CachingEmbedder(Counting(), path)
    cache.save()
    cache.embed([])
    cache.save()
    assert not path.exists()


def test_save_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "cache.tsv"
    cache = CachingEmbedder(Counting(), path)
    cache.embed(["یک"])
    cache.save()
    assert path.exists()


def test_unsaved_vectors_are_not_persisted(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    CachingEmbedder(Counting(), path).embed(TEXTS)
    inner = Counting()
    CachingEmbedder(inner, path).embed(TEXTS)
    assert sorted(inner.texts_embedded) == sorted(set(TEXTS))


def test_the_cache_is_keyed_by_embedder_name(tmp_path: Path) -> None:
    path = tmp_path / "cache.tsv"
    first = CachingEmbedder(Awkward("awkward:a"), path)
    first.embed(["یک"])
    first.save()
    # Same file, same text, another model: its vector is not the first model's.
    other = Counting(Awkward("awkward:b"))
    CachingEmbedder(other, path).embed(["یک"])
    assert other.calls == [["یک"]]
    same = Counting(Awkward("awkward:a"))
    CachingEmbedder(same, path).embed(["یک"])
    assert same.calls == []


def test_empty_input(tmp_path: Path) -> None:
    inner = Counting()
    cache = CachingEmbedder(inner, tmp_path / "cache.tsv")
    vectors = cache.embed([])
    assert vectors.shape == (0, 64)
    assert vectors.dtype == np.float32
    assert inner.calls == []


def test_returned_matrix_is_a_copy(tmp_path: Path) -> None:
    cache = CachingEmbedder(Counting(), tmp_path / "cache.tsv")
    vectors = cache.embed(TEXTS)
    expected = vectors.copy()
    vectors[:] = 7.0
    np.testing.assert_array_equal(cache.embed(TEXTS), expected)


@pytest.mark.parametrize("centered", [True, False])
def test_properties_delegate(tmp_path: Path, centered: bool) -> None:
    inner = Awkward("awkward:delegate", centered=centered)
    cache = CachingEmbedder(inner, tmp_path / "cache.tsv")
    assert cache.name == "awkward:delegate"
    assert cache.dimension == 5
    assert cache.default_threshold == 0.123
    assert cache.centered is centered
    hashing = CachingEmbedder(HashingEmbedder(256), tmp_path / "other.tsv")
    assert (hashing.name, hashing.dimension, hashing.default_threshold, hashing.centered) == (
        "hashing:256",
        256,
        HashingEmbedder.default_threshold,
        False,
    )
    assert hashing.embed([]).shape == (0, 256)
