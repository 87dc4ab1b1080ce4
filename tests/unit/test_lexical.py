"""Online TF-IDF over hashed unigrams and bigrams: unit vectors, determinism, IDF learned from the stream."""

from __future__ import annotations

import math

import numpy as np
import pytest

from streams.core.lexical import OnlineTfidf
from streams.core.sparse import sparse_add

# Large enough that the handful of features in these tests never share a bucket.
BIG = 2**20

EARTHQUAKE = ["زلزله", "راور", "کرمان", "مصدوم"]
DERBY = ["پرسپولیس", "استقلال", "دربی", "آزادی"]


def bucket(tfidf: OnlineTfidf, feature: str) -> int:
    """The bucket of one unigram (a single token has no bigram)."""
    (index,) = tfidf.features([feature])
    return index


def test_vectors_are_unit_length_float32() -> None:
    tfidf = OnlineTfidf(BIG)
    for tokens in (EARTHQUAKE, DERBY, ["تنها"], ["تکرار", "تکرار", "تکرار"]):
        vector = tfidf.vector(tokens)
        assert vector.shape == (BIG,)
        assert vector.dtype == np.float32
        assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-6)


def test_no_tokens_give_the_zero_vector() -> None:
    tfidf = OnlineTfidf(64)
    tfidf.observe(EARTHQUAKE)
    vector = tfidf.vector([])
    assert vector.shape == (64,)
    assert vector.dtype == np.float32
    assert not vector.any()


def test_default_dimension() -> None:
    assert OnlineTfidf().vector(EARTHQUAKE).shape == (4096,)


def test_buckets_stay_inside_a_small_dimension() -> None:
    tfidf = OnlineTfidf(8)
    tokens = [f"t{index}" for index in range(50)]
    assert all(0 <= index < 8 for index in tfidf.features(tokens))
    assert float(np.linalg.norm(tfidf.vector(tokens))) == pytest.approx(1.0, abs=1e-6)


def test_deterministic_across_instances() -> None:
    first, second = OnlineTfidf(BIG), OnlineTfidf(BIG)
    np.testing.assert_array_equal(first.vector(EARTHQUAKE), second.vector(EARTHQUAKE))
    for tokens in (EARTHQUAKE, DERBY, EARTHQUAKE[:2]):
        first.observe(tokens)
        second.observe(tokens)
    np.testing.assert_array_equal(first.vector(EARTHQUAKE), second.vector(EARTHQUAKE))
    assert first.features(DERBY) == second.features(DERBY)


def test_vector_does_not_change_the_statistics() -> None:
    tfidf = OnlineTfidf(BIG)
    tfidf.observe(EARTHQUAKE)
    before = tfidf.vector(["زلزله", "دربی"])
    for _ in range(3):
        tfidf.vector(EARTHQUAKE)
    np.testing.assert_array_equal(tfidf.vector(["زلزله", "دربی"]), before)


def test_identical_token_lists_have_cosine_one() -> None:
    tfidf = OnlineTfidf(BIG)
    tfidf.observe(DERBY)
    assert float(tfidf.vector(EARTHQUAKE) @ tfidf.vector(list(EARTHQUAKE))) == pytest.approx(1.0, abs=1e-6)


def test_disjoint_token_lists_have_cosine_zero() -> None:
    tfidf = OnlineTfidf(BIG)
    assert float(tfidf.vector(EARTHQUAKE) @ tfidf.vector(DERBY)) == pytest.approx(0.0, abs=1e-6)


def test_unigrams_and_bigrams_are_counted() -> None:
    tfidf = OnlineTfidf(BIG)
    # a b c -> unigrams a, b, c and bigrams "a b", "b c": five features.
    assert tfidf.features(["a", "b", "c"]) == {
        bucket(tfidf, "a"): 1,
        bucket(tfidf, "b"): 1,
        bucket(tfidf, "c"): 1,
        bucket(tfidf, "a b"): 1,
        bucket(tfidf, "b c"): 1,
    }
    assert tfidf.features([]) == {}


def test_bigram_order_matters() -> None:
    tfidf = OnlineTfidf(BIG)
    forward, backward = tfidf.vector(["a", "b"]), tfidf.vector(["b", "a"])
    assert not np.array_equal(forward, backward)
    # Same unigrams a, b, different bigrams "a b" and "b a"; all four weights equal (nothing observed),
    # so each vector has three equal components of which two are shared: cosine 2/3.
    assert float(forward @ backward) == pytest.approx(2 / 3, abs=1e-6)
    assert forward[bucket(tfidf, "a b")] > 0
    assert backward[bucket(tfidf, "a b")] == 0


def test_term_frequency_is_log_scaled() -> None:
    tfidf = OnlineTfidf(BIG)
    vector = tfidf.vector(["a", "a", "b"])
    # Nothing observed: one IDF for all. a occurs twice -> 1 + ln 2; b once -> 1.
    ratio = vector[bucket(tfidf, "a")] / vector[bucket(tfidf, "b")]
    assert ratio == pytest.approx(1 + math.log(2), rel=1e-5)


def test_a_term_in_every_document_weighs_less_than_a_rare_one() -> None:
    tfidf = OnlineTfidf(BIG)
    common, rare = bucket(tfidf, "common"), bucket(tfidf, "rare")
    before = tfidf.vector(["common", "rare"])
    # Nothing observed yet: both terms weigh the same.
    assert before[common] == pytest.approx(before[rare], rel=1e-6)
    for index in range(3):
        tfidf.observe(["common", f"other{index}"])
    after = tfidf.vector(["common", "rare"])
    assert after[common] < after[rare]
    assert after[common] < before[common]
    # 3 documents observed, scored as the 4th: idf = ln((4 + 1) / (df + 1)) + 1.
    # common: df 3 -> ln(5/4) + 1; rare: df 0 -> ln 5 + 1.
    expected = (math.log(5 / 4) + 1) / (math.log(5) + 1)
    assert after[common] / after[rare] == pytest.approx(expected, rel=1e-5)


def test_document_frequency_counts_a_document_once() -> None:
    repeated, single = OnlineTfidf(BIG), OnlineTfidf(BIG)
    repeated.observe(["x", "x", "x"])  # x three times: still one document holding x
    single.observe(["x"])
    # Both: 1 document, x with df 1, so x weighs the same; a count per occurrence would give df 3.
    np.testing.assert_array_equal(repeated.vector(["x", "z"]), single.vector(["x", "z"]))
    assert (
        repeated.vector(["x", "z"])[bucket(repeated, "x")]
        < repeated.vector(["x", "z"])[bucket(repeated, "z")]
    )


def test_vector_then_observe_equals_vector_followed_by_observe() -> None:
    documents = [["زلزله", "کرمان", "راور"], ["زلزله", "تهران"], ["آتش", "تهران", "تهران"]]
    combined, separate = OnlineTfidf(1024), OnlineTfidf(1024)
    for tokens in documents:
        expected = separate.vector(tokens)
        separate.observe(tokens)
        np.testing.assert_array_equal(combined.vector_then_observe(tokens), expected)


def test_sparse_add_sums_shared_indices_and_keeps_the_rest() -> None:
    left = (np.array([1, 4, 9], dtype=np.int64), np.array([0.5, 1.0, 2.0], dtype=np.float32))
    right = (np.array([0, 4, 12], dtype=np.int64), np.array([3.0, 0.25, 1.5], dtype=np.float32))
    indices, values = sparse_add(left, right)
    assert indices.tolist() == [0, 1, 4, 9, 12] and indices.dtype == np.int64
    assert values.tolist() == [3.0, 0.5, 1.25, 2.0, 1.5] and values.dtype == np.float32
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
    alone = sparse_add(empty, right)
    assert alone[0].tolist() == [0, 4, 12] and alone[1].tolist() == [3.0, 0.25, 1.5]
    assert alone[0] is not right[0]  # a copy: the story's sum never aliases the article's vector
