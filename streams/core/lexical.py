"""Lexical vectors with online IDF: what the tracker compares besides the dense embedding.

TF-IDF over word unigrams and bigrams of the normalized content tokens, hashed into a fixed number of
dimensions so that story centroids fit one matrix. Document frequencies are learned from the stream itself
in event-time order (no corpus is shipped), so live and offline runs see the same weights.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_array, encode_array
from streams.core.ngrams import hashed_bucket, word_ngrams


class OnlineTfidf:
    """Turns token lists into unit TF-IDF vectors; ``observe`` adds a document to the statistics."""

    def __init__(self, dimension: int = 4096) -> None:
        self.dimension = dimension
        self._document_frequency: Counter[int] = Counter()
        self._documents = 0
        self._buckets: dict[str, int] = {}

    def _bucket(self, feature: str) -> int:
        bucket = self._buckets.get(feature)
        if bucket is None:
            bucket = hashed_bucket(feature, self.dimension)
            if len(self._buckets) < 2_000_000:  # bounded memo
                self._buckets[feature] = bucket
        return bucket

    def features(self, tokens: Sequence[str]) -> Counter[int]:
        """Hashed unigram and bigram counts."""
        return Counter(self._bucket(gram) for gram in word_ngrams(tokens))

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
        for bucket, count in features.items():
            idf = math.log((documents + 1) / (self._document_frequency[bucket] + 1)) + 1.0
            vector[bucket] = (1.0 + math.log(count)) * idf
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector

    def _learn(self, features: Counter[int]) -> None:
        self._documents += 1
        self._document_frequency.update(features.keys())
