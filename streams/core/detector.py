"""The Detector: the whole domain pipeline and its state, framework-free.

Two halves, split where the Kafka topology splits:
- preparation (stateless, scales out): raw message -> validated article -> normalized text -> embedding
  (``streams/core/preparation.py``);
- story detection (stateful, one owner of the global view): embedded article, in canonical order ->
  story assignment (``streams/core/story_tracker.py`` decides where it goes), story snapshots, alerts.

The offline command, the evaluation, the benchmarks and the Faust worker all call this one object; nothing
else composes the parts. The worker feeds ``track`` from its reorder buffer (articles in canonical order
across input partitions); the in-process runs hand ``track_in_order`` everything at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from streams.codecs import decode_time, encode_time
from streams.core.alerts import AlertPolicy
from streams.core.calibration import Calibration
from streams.core.clock import EventClock
from streams.core.embedding import Embedder
from streams.core.emergence import EmergenceRule
from streams.core.lexical import OnlineTfidf
from streams.core.messages import InputMessage
from streams.core.normalize import TextNormalizer
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer, wall_clock_now
from streams.core.snapshots import snapshot_of
from streams.core.story_linking import StoryLinker, configured_linker
from streams.core.story_tracker import Placement, StoryTracker
from streams.errors import RejectReason
from streams.records import (
    Alert,
    Assignment,
    EmbeddedArticle,
    LinkExplanation,
    Rejection,
    StorySnapshot,
    reject,
)
from streams.settings import Settings


@dataclass(slots=True)
class TrackResult:
    """What one embedded article caused downstream."""

    assignment: Assignment | None = None
    rejection: Rejection | None = None
    snapshots: list[StorySnapshot] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    # With ``describe_candidates``: the candidate stories the article was weighed against (see Placement).
    candidates: tuple[tuple[str, tuple[float, ...]], ...] = ()


class _StoryState:
    """Story assignment, emergence and alerts: everything the Detector remembers between articles."""

    def __init__(
        self,
        settings: Settings,
        dimension: int,
        calibration: Calibration,
        describe: bool = False,
        linker: StoryLinker | None = None,
    ) -> None:
        tracker = settings.tracker
        self.dimension = dimension
        self.clock = EventClock()
        self.tracker = StoryTracker(
            dimension=dimension,
            threshold=calibration.threshold_for(tracker),
            window=timedelta(hours=tracker.window_hours),
            lexical_dimension=tracker.lexical_dimension if tracker.lexical_weight > 0 else 0,
            lexical_weight=tracker.lexical_weight,
            lexical_threshold=tracker.lexical_threshold,
            center=calibration.centered_for(tracker),
            neighbors=tracker.neighbors,
            hot_stories=tracker.hot_stories,
            linker=linker if linker is not None else configured_linker(settings, calibration),
            describe=describe,
            merge_probability=tracker.merge_probability or None,  # 0: never merge
        )
        # Document frequencies learned in tracking order: deterministic, live and offline alike.
        self.tfidf = OnlineTfidf(tracker.lexical_dimension) if tracker.lexical_weight > 0 else None
        self.rule = EmergenceRule.from_settings(settings.alerts)
        self.policy = AlertPolicy(self.rule)
        # Ids seen within the story window: a re-sent article must not count twice in a story.
        self.seen_ids: dict[str, str] = {}

    def to_state(self) -> dict[str, Any]:
        return {
            "now": encode_time(self.clock.now),
            "seen_ids": dict(self.seen_ids),
            "tracker": self.tracker.to_state(),
            "tfidf": self.tfidf.to_state() if self.tfidf else None,
            "alerted": self.policy.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.clock = EventClock(decode_time(state["now"]))
        self.seen_ids = dict(state["seen_ids"])
        self.tracker.load_state(state["tracker"])
        if self.tfidf is not None and state["tfidf"] is not None:
            self.tfidf.load_state(state["tfidf"])
        self.policy.load_state(state["alerted"])

    def track(self, article: EmbeddedArticle) -> TrackResult:
        if article.id in self.seen_ids:
            return TrackResult(
                rejection=reject(
                    RejectReason.DUPLICATE_ID,
                    f"article id {article.id!r} was already assigned to story {self.seen_ids[article.id]}",
                    article.model_dump_json(exclude={"embedding"}).encode("utf-8"),
                    article_id=article.id,
                    at=self.clock.now,
                    input_partition=article.input_partition,
                    input_offset=article.input_offset,
                )
            )
        now = self.clock.advance(article.published_at)
        result = TrackResult()
        for story in self.tracker.expire(now):
            self.policy.forget(story.story_id)
            for article_id in story.article_ids:
                self.seen_ids.pop(article_id, None)
            result.snapshots.append(snapshot_of(story, status="closed"))
        placement = self.tracker.place(
            article_id=article.id,
            published_at=article.published_at,
            source=article.source or "unknown",
            headline=article.headline,
            tokens=article.tokens,
            vector=article.vector(),
            lexical=self.tfidf.vector_then_observe(article.tokens) if self.tfidf else None,
        )
        story = placement.story
        for absorbed in placement.absorbed:
            self.policy.merge(absorbed.story_id, story.story_id)
            for article_id in absorbed.article_ids:
                self.seen_ids[article_id] = story.story_id
            result.snapshots.append(snapshot_of(absorbed, status="closed", merged_into=story.story_id))
        self.seen_ids[article.id] = story.story_id
        result.assignment = Assignment(
            id=article.id,
            story_id=story.story_id,
            published_at=article.published_at,
            similarity=round(placement.similarity, 6),
            new_story=placement.new_story,
            link=_explanation(placement),
        )
        result.candidates = placement.candidates
        result.snapshots.append(snapshot_of(story))
        alert = self.policy.consider(story, now)
        if alert is not None:
            result.alerts.append(alert)
        return result


def _explanation(placement: Placement) -> LinkExplanation | None:
    link = placement.link
    if link is None:
        return None
    return LinkExplanation(
        candidate=link.candidate,
        probability=link.probability,
        threshold=link.threshold,
        features=link.features,
        merged=dict(link.merged) if link.merged else None,
    )


class Detector:
    """Prepares input messages and detects stories and emerging-story alerts in them.

    ``embedder`` is needed only to ``prepare``: a process that only tracks (the worker's tracker before its
    model loads, the evaluation's baselines over shared embeddings) gives the ``calibration`` instead (by
    default the embedder's, else the configured backend's, read without loading a model). The story state is
    built on the first tracked article (or restored checkpoint), whose vector gives the dimension.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        calibration: Calibration | None = None,
        normalizer: TextNormalizer | None = None,
        wall_clock: Callable[[], datetime] = wall_clock_now,
        describe_candidates: bool = False,
        linker: StoryLinker | None = None,
    ) -> None:
        self._settings = settings
        # Each TrackResult lists the candidate stories with their linker features (train-linker's input).
        self._describe = describe_candidates
        # A linker in place of the configured one (train-linker weighing thresholds).
        self._linker = linker
        if calibration is None:
            calibration = (
                Calibration.of(embedder) if embedder is not None else Calibration.declared(settings.embedder)
            )
        self._calibration = calibration
        self._preparer = (
            ArticlePreparer(settings, embedder, normalizer, wall_clock) if embedder is not None else None
        )
        self._stories: _StoryState | None = None

    @property
    def active_stories(self) -> int:
        return self._stories.tracker.active_count if self._stories is not None else 0

    @property
    def dimension(self) -> int | None:
        """The vectors' dimension, once an article was tracked or a checkpoint restored."""
        return self._stories.dimension if self._stories is not None else None

    # ------------------------------------------------------------- preparation (stateless)

    def prepare(self, messages: Sequence[InputMessage]) -> list[EmbeddedArticle | Rejection]:
        """One result per message, in order: an embedded article or the reason it was refused."""
        if self._preparer is None:
            raise RuntimeError("this Detector was built without an embedder: it can only track")
        return self._preparer.prepare(messages)

    # ------------------------------------------------------------- story detection (stateful)

    def track(self, article: EmbeddedArticle) -> TrackResult:
        """The next article in canonical order (``canonical_order_key``): its story, what changed, alerts."""
        stories = self._stories or self._story_state(len(article.vector()))
        return stories.track(article)

    def track_in_order(self, articles: Sequence[EmbeddedArticle]) -> Iterator[tuple[int, TrackResult]]:
        """Track ``articles`` in canonical order; yield each one's position in ``articles`` and result."""
        for index in sorted(range(len(articles)), key=lambda index: canonical_order_key(articles[index])):
            yield index, self.track(articles[index])

    # ------------------------------------------------------------- state

    def to_state(self) -> dict[str, Any]:
        """The story state as plain JSON: ``load_state`` on a Detector with the same settings continues
        exactly where this one stands (crash recovery from a checkpoint)."""
        if self._stories is None:
            raise RuntimeError("nothing tracked yet: there is no story state to save")
        return self._stories.to_state()

    def load_state(self, dimension: int, state: dict[str, Any]) -> None:
        self._stories = _StoryState(
            self._settings, dimension, self._calibration, self._describe, self._linker
        )
        self._stories.load_state(state)

    def _story_state(self, dimension: int) -> _StoryState:
        if self._stories is None:
            self._stories = _StoryState(
                self._settings, dimension, self._calibration, self._describe, self._linker
            )
        return self._stories
