"""Lexical vectors with online IDF: what the tracker compares besides the dense embedding.

TF-IDF over word unigrams and bigrams of the normalized content tokens, hashed into a fixed number of
dimensions so that story centroids fit one matrix. Document frequencies are learned from the stream itself
in event-time order (no corpus is shipped), so live and offline runs see the same weights.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_array, encode_array
from streams.core.ngrams import hashed_bucket, word_ngrams

# Feature -> bucket per dimension, shared by every OnlineTfidf of the process (a pure function of the two:
# runs over the same texts, such as the evaluation's systems over each window, hash each feature once).
_MEMO_LIMIT = 2_000_000
_memos: dict[int, dict[str, int]] = {}


class OnlineTfidf:
    """Turns token lists into unit TF-IDF vectors; ``observe`` adds a document to the statistics."""

    def __init__(self, dimension: int = 4096) -> None:
        self.dimension = dimension
        self._document_frequency: Counter[int] = Counter()
        self._documents = 0
        self._buckets = _memos.setdefault(dimension, {})

    def _bucket(self, feature: str) -> int:
        bucket = self._buckets.get(feature)
        if bucket is None:
            bucket = hashed_bucket(feature, self.dimension)
            if len(self._buckets) < _MEMO_LIMIT:  # bounded memo
                self._buckets[feature] = bucket
        return bucket

    def features(self, tokens: Sequence[str]) -> Counter[int]:
        """Hashed unigram and bigram counts."""
        grams = word_ngrams(tokens)
        # Memo look-ups in one C-level pass; only features not memoized (None) are hashed, in text order.
        memo: list[int | None] = list(map(self._buckets.get, grams))
        if None not in memo:
            return Counter(cast(list[int], memo))
        return Counter(
            self._bucket(gram) if bucket is None else bucket for gram, bucket in zip(grams, memo, strict=True)
        )

    def vector(self, tokens: Sequence[str]) -> NDArray[np.float32]:
        """The unit TF-IDF vector of ``tokens`` under the statistics seen so far."""
        return self._vector(self.features(tokens))

    def observe(self, tokens: Sequence[str]) -> None:
        self._learn(self.features(tokens))

    def vector_then_observe(self, tokens: Sequence[str]) -> NDArray[np.float32]:
        """``vector`` then ``observe`` (the tracker's order), hashing the tokens once."""
        features = self.features(tokens)
        vector = self._vector(features)
        self._learn(features)
        return vector

    def to_state(self) -> dict[str, Any]:
        return {"documents": self._documents, "document_frequency": encode_array(self._frequencies())}

    def load_state(self, state: dict[str, Any]) -> None:
        self._documents = state["documents"]
        frequencies = decode_array(state["document_frequency"])
        self._document_frequency = Counter(
            {int(bucket): int(frequencies[bucket]) for bucket in np.flatnonzero(frequencies)}
        )

    def _frequencies(self) -> NDArray[np.int64]:
        frequencies = np.zeros(self.dimension, dtype=np.int64)
        for bucket, count in self._document_frequency.items():
            frequencies[bucket] = count
        return frequencies

    def _vector(self, features: Counter[int]) -> NDArray[np.float32]:
        vector = np.zeros(self.dimension, dtype=np.float32)
        documents = self._documents + 1
        frequency = self._document_frequency.get  # not Counter's __missing__: a Python call per unseen bucket
        for bucket, count in features.items():
            idf = math.log((documents + 1) / (frequency(bucket, 0) + 1)) + 1.0
            vector[bucket] = (1.0 + math.log(count)) * idf
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def _learn(self, features: Counter[int]) -> None:
        self._documents += 1
        self._document_frequency.update(features.keys())
