"""The Detector: the whole domain pipeline, framework-free.

Two stages, split where the Kafka topology splits:
- ``ArticlePreparer`` (stateless, scales out): bytes -> validated article -> normalized text -> embedding.
- ``StoryDetector`` (stateful, one instance owns the global view): embedded article -> story assignment,
  story snapshot, alerts.
The offline command and the Faust agents call the very same objects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tqdm import tqdm

from streams.alerts import AlertPolicy
from streams.clock import EventClock
from streams.embedding import Embedder
from streams.emergence import EmergenceRule
from streams.errors import ArticleRejected, RejectReason
from streams.lexical import OnlineTfidf
from streams.normalize import TextNormalizer
from streams.records import (
    Alert,
    Article,
    Assignment,
    EmbeddedArticle,
    Rejection,
    StorySnapshot,
    parse_article,
    peek_article_id,
    reject,
)
from streams.settings import Settings
from streams.state_codec import decode_time, encode_time
from streams.stories import MAX_SNAPSHOT_IDS, Story, StoryTracker


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One message of the input topic (or one line of an input file)."""

    raw: bytes
    partition: int = 0
    offset: int = -1


def wall_clock_now() -> datetime:
    return datetime.now(UTC)


class ArticlePreparer:
    """Validates, normalizes and embeds a batch of input messages.

    ``wall_clock`` is the one place where wall time enters the detector: nothing can be published after
    the real now, so an article dated later than now plus ``worker.max_future_seconds`` is refused
    (``future_timestamp``) before it can move the event clock ahead for good. Tests inject a fixed clock.
    """

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        normalizer: TextNormalizer | None = None,
        wall_clock: Callable[[], datetime] = wall_clock_now,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._normalizer = normalizer or TextNormalizer()
        self._wall_clock = wall_clock

    @property
    def embedder(self) -> Embedder:
        return self._embedder

    @staticmethod
    def _peek_id(reason: RejectReason, raw: bytes) -> str | None:
        # An oversized message is not parsed at all: that is what the limit protects.
        return None if reason is RejectReason.TOO_LARGE else peek_article_id(raw)

    def _check_not_in_future(self, article: Article, now: datetime) -> None:
        # Seconds as floats: a difference of two datetimes never overflows, whatever the year.
        ahead = (article.published_at - now).total_seconds()
        limit = self._settings.worker.max_future_seconds
        if ahead > limit:
            raise ArticleRejected(
                RejectReason.FUTURE_TIMESTAMP,
                f"'published_at' {article.published_at.isoformat()} is {ahead:.0f} s after the wall clock's "
                f"now ({now.isoformat(timespec='seconds')}); at most {limit:.0f} s are tolerated",
            )

    def prepare_in_batches(
        self,
        messages: Sequence[InputMessage],
        batch_size: int,
        progress: bool = False,
        desc: str = "embedding",
    ) -> list[EmbeddedArticle | Rejection]:
        """``prepare`` over consecutive batches of ``batch_size``, with a progress bar (batch runs)."""
        results: list[EmbeddedArticle | Rejection] = []
        with tqdm(total=len(messages), desc=desc, unit="article", disable=not progress) as bar:
            for first in range(0, len(messages), batch_size):
                batch = messages[first : first + batch_size]
                results.extend(self.prepare(batch))
                bar.update(len(batch))
        return results

    def prepare(self, messages: Sequence[InputMessage]) -> list[EmbeddedArticle | Rejection]:
        """One result per message, in order: an embedded article or the reason it was refused."""
        results: list[EmbeddedArticle | Rejection | None] = [None] * len(messages)
        pending: list[tuple[int, Article, str, str, tuple[str, ...]]] = []
        now = self._wall_clock()
        for index, message in enumerate(messages):
            article: Article | None = None
            try:
                article = parse_article(
                    message.raw,
                    max_bytes=self._settings.kafka.max_message_bytes,
                    max_text_chars=self._settings.worker.max_text_chars,
                )
                self._check_not_in_future(article, now)
                normalized = self._normalizer.normalize(article.text, article.title)
            except ArticleRejected as error:
                results[index] = reject(
                    error.reason,
                    error.message,
                    message.raw,
                    article_id=article.id if article else self._peek_id(error.reason, message.raw),
                    at=article.published_at if article else None,
                    input_partition=message.partition,
                    input_offset=message.offset,
                )
                continue
            pending.append((index, article, normalized.text, normalized.headline, normalized.tokens))
        vectors = self._embedder.embed([text for _, _, text, _, _ in pending])
        for (index, article, _, headline, tokens), vector in zip(pending, vectors, strict=True):
            results[index] = EmbeddedArticle(
                id=article.id,
                published_at=article.published_at,
                source=article.source,
                headline=headline,
                tokens=list(tokens),
                embedding=EmbeddedArticle.encode_vector(vector),
                embedder=self._embedder.name,
                input_partition=messages[index].partition,
                input_offset=messages[index].offset,
            )
        return [result for result in results if result is not None]


@dataclass(slots=True)
class TrackResult:
    """What one embedded article caused downstream."""

    assignment: Assignment | None = None
    rejection: Rejection | None = None
    snapshots: list[StorySnapshot] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


def snapshot_of(story: Story, status: str = "active") -> StorySnapshot:
    return StorySnapshot(
        story_id=story.story_id,
        status="closed" if status == "closed" else "active",
        first_seen=story.first_seen,
        last_seen=story.last_seen,
        article_count=story.article_count,
        sources=dict(sorted(story.sources.items())),
        headline=story.central_headline(),
        keywords=story.keywords(),
        article_ids=story.article_ids[-MAX_SNAPSHOT_IDS:],
    )


class StoryDetector:
    """Story assignment, emergence and alerts over embedded articles, in the order given."""

    def __init__(
        self, settings: Settings, dimension: int, default_threshold: float, default_centered: bool = False
    ) -> None:
        threshold = settings.tracker.similarity_threshold
        self._dimension = dimension
        self._clock = EventClock()
        tracker = settings.tracker
        self._tracker = StoryTracker(
            dimension=dimension,
            threshold=default_threshold if threshold is None else threshold,
            window=timedelta(hours=tracker.window_hours),
            lexical_dimension=tracker.lexical_dimension if tracker.lexical_weight > 0 else 0,
            lexical_weight=tracker.lexical_weight,
            lexical_threshold=tracker.lexical_threshold,
            center=default_centered if tracker.center is None else tracker.center,
            neighbors=tracker.neighbors,
            hot_stories=tracker.hot_stories,
        )
        # Document frequencies learned in tracking order: deterministic, live and offline alike.
        self._tfidf = OnlineTfidf(tracker.lexical_dimension) if tracker.lexical_weight > 0 else None
        self._rule = EmergenceRule(
            burst_window=timedelta(minutes=settings.alerts.burst_window_minutes),
            min_articles=settings.alerts.min_articles,
            min_sources=settings.alerts.min_sources,
            max_age=timedelta(hours=settings.alerts.max_story_age_hours),
        )
        self._policy = AlertPolicy(self._rule)
        # Ids seen within the story window: a re-sent article must not count twice in a story.
        self._seen_ids: dict[str, str] = {}

    @property
    def active_stories(self) -> int:
        return self._tracker.active_count

    @property
    def dimension(self) -> int:
        return self._dimension

    def to_state(self) -> dict[str, Any]:
        """The whole detector as plain JSON: ``load_state`` on a detector with the same settings continues
        exactly where this one stands (crash recovery from a checkpoint)."""
        return {
            "now": encode_time(self._clock.now),
            "seen_ids": dict(self._seen_ids),
            "tracker": self._tracker.to_state(),
            "tfidf": self._tfidf.to_state() if self._tfidf else None,
            "alerted": self._policy.to_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self._clock = EventClock(decode_time(state["now"]))
        self._seen_ids = dict(state["seen_ids"])
        self._tracker.load_state(state["tracker"])
        if self._tfidf is not None and state["tfidf"] is not None:
            self._tfidf.load_state(state["tfidf"])
        self._policy.load_state(state["alerted"])

    def track(self, article: EmbeddedArticle) -> TrackResult:
        if article.id in self._seen_ids:
            return TrackResult(
                rejection=reject(
                    RejectReason.DUPLICATE_ID,
                    f"article id {article.id!r} was already assigned to story {self._seen_ids[article.id]}",
                    article.model_dump_json(exclude={"embedding"}).encode("utf-8"),
                    article_id=article.id,
                    at=self._clock.now,
                    input_partition=article.input_partition,
                    input_offset=article.input_offset,
                )
            )
        now = self._clock.advance(article.published_at)
        result = TrackResult()
        for story in self._tracker.expire(now):
            self._policy.forget(story.story_id)
            for article_id in story.article_ids:
                self._seen_ids.pop(article_id, None)
            result.snapshots.append(snapshot_of(story, status="closed"))
        placement = self._tracker.place(
            article_id=article.id,
            published_at=article.published_at,
            source=article.source or "unknown",
            headline=article.headline,
            tokens=article.tokens,
            vector=article.vector(),
            lexical=self._tfidf.vector_then_observe(article.tokens) if self._tfidf else None,
        )
        story = placement.story
        self._seen_ids[article.id] = story.story_id
        result.assignment = Assignment(
            id=article.id,
            story_id=story.story_id,
            published_at=article.published_at,
            similarity=round(placement.similarity, 6),
            new_story=placement.new_story,
        )
        result.snapshots.append(snapshot_of(story))
        alert = self._policy.consider(story, now)
        if alert is not None:
            result.alerts.append(alert)
        return result


def canonical_order_key(article: EmbeddedArticle) -> tuple[datetime, str]:
    """The order the story tracker sees articles in: event time, then id (offline and live alike)."""
    return (article.published_at, article.id)
