"""Hashed word n-grams: the features of the hashing embedder and of the tracker's online TF-IDF."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise


def word_ngrams(words: Sequence[str]) -> list[str]:
    """The words, then every pair of neighbouring words ("a b"): unigrams and bigrams, in text order."""
    return list(words) + [f"{first} {second}" for first, second in pairwise(words)]


def hashed_bucket(feature: str, dimension: int) -> int:
    """A stable bucket in [0, dimension) for ``feature`` (blake2b: the same on every machine and run,
    unlike ``hash``)."""
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % dimension
