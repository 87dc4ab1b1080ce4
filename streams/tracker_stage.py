"""The story tracker's stage between Kafka and the Detector: event-time reordering, the input position,
checkpoints and recovery. Plain Python (the Faust agent in ``streams/app.py`` drives it), so its recovery
logic is tested without a broker.

Recovery: before the first message a (re)started tracker sees, it loads the latest checkpoint (state after
input offset O) and re-processes its input from O + 1 up to that first message, emitting again what those
articles caused (their outputs may not have left before the crash: at-least-once). Messages at or before
O that Kafka delivers again are already in the state and are skipped.

Re-deliveries from the stateless stage: after a crash or a rebalance it embeds again the articles after its
last committed input offset, so the tracker's input holds some articles twice. The stateless stage handles
each input partition in offset order, so an article whose input offset is not above the highest one already
accepted from its partition is such a re-delivery: skipped and counted, whether or not its story is still
active (ids are forgotten with their story; input offsets are not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from streams.checkpoint import Checkpoint, settings_fingerprint
from streams.errors import ConfigurationError, RejectReason
from streams.ordering import ReorderBuffer
from streams.pipeline import StoryDetector, TrackResult
from streams.records import EmbeddedArticle, Rejection, reject
from streams.settings import Settings

log = logging.getLogger(__name__)

# Reads the newest checkpoint (None: there is none); reads input records (offset, value) in [start, end).
CheckpointReader = Callable[[], bytes | None]
InputReader = Callable[[int, int], list[tuple[int, bytes]]]


@dataclass(frozen=True, slots=True)
class Held[T]:
    """An article in the reorder buffer with whatever the edge attached to it (e.g. a latency trace)."""

    article: EmbeddedArticle
    extra: T | None


class TrackerStage[T]:
    """Reorder buffer + Detector + input position, with checkpoints of all three."""

    def __init__(self, settings: Settings, default_threshold: float, default_centered: bool) -> None:
        self._settings = settings
        self._default_threshold = default_threshold
        self._default_centered = default_centered
        self._detector: StoryDetector | None = None
        self._embedder_name: str | None = None
        self.buffer: ReorderBuffer[Held[T]] = ReorderBuffer(
            partitions=settings.kafka.articles_partitions,
            idle_seconds=settings.tracker.reorder_idle_seconds,
        )
        # Offset of the last input message whose effects are in the state (-1: none).
        self.position = -1
        self.recovered = False
        self._since_checkpoint = 0
        self.restored_from: int | None = None
        self._expected_fingerprint: str | None = None
        # Highest input offset accepted per input partition (see the module's note on re-deliveries).
        self._input_offsets: dict[int, int] = {}
        # Messages skipped as re-deliveries, of either kind.
        self.redelivered = 0

    @property
    def active_stories(self) -> int:
        return self._detector.active_stories if self._detector is not None else 0

    def detector(self, dimension: int) -> StoryDetector:
        if self._detector is None:
            self._detector = StoryDetector(
                self._settings, dimension, self._default_threshold, self._default_centered
            )
        return self._detector

    def track(self, article: EmbeddedArticle) -> TrackResult:
        """Run one released article through the Detector (built on the first, from its dimension)."""
        detector = self._detector or self.detector(len(article.vector()))
        return detector.track(article)

    def recover(
        self, first_offset: int, read_checkpoint: CheckpointReader, read_input: InputReader
    ) -> list[tuple[int, bytes]]:
        """Load the newest checkpoint; return the input records to re-process before ``first_offset``.

        Blocking (reads Kafka): call it off the event loop, then feed the records to ``accept``.
        """
        self.recovered = True
        raw = read_checkpoint()
        if raw is None:
            log.info("no tracker checkpoint: starting with no stories at input offset %d", first_offset)
            return []
        try:
            checkpoint = Checkpoint.from_bytes(raw)
        except ValueError as error:
            raise ConfigurationError(
                f"the tracker checkpoint topic holds something unreadable ({error}); delete that topic "
                "(the tracker then starts with no stories) or use another STREAMS_KAFKA__TOPIC_PREFIX"
            ) from None
        self._restore(checkpoint)
        if first_offset > checkpoint.offset + 1:
            plan = f"re-processing offsets {checkpoint.offset + 1} to {first_offset - 1}"
        else:
            plan = f"skipping re-delivered offsets {first_offset} to {checkpoint.offset}"
        log.info(
            "tracker restored from checkpoint at input offset %d (%d active stories); %s",
            checkpoint.offset,
            self.active_stories,
            plan,
        )
        return read_input(checkpoint.offset + 1, first_offset)

    def _restore(self, checkpoint: Checkpoint) -> None:
        self._expected_fingerprint = checkpoint.fingerprint
        self.detector(checkpoint.dimension).load_state(checkpoint.detector)
        self.buffer.load_state(
            checkpoint.buffer, lambda item: Held(EmbeddedArticle.model_validate(item), None)
        )
        self.position = checkpoint.offset
        self._input_offsets = {
            int(partition): offset for partition, offset in checkpoint.input_offsets.items()
        }
        self.restored_from = checkpoint.offset

    def accept(self, offset: int, raw: bytes, extra: T | None = None) -> list[Held[T]] | Rejection | None:
        """One input message: the articles it releases for tracking, a rejection, or None when it is a
        re-delivery (of this topic's message, or of an article the stateless stage embedded again)."""
        if offset <= self.position:
            self.redelivered += 1
            return None
        self.position = offset
        self._since_checkpoint += 1
        try:
            article = EmbeddedArticle.model_validate_json(raw)
        except ValidationError as error:
            return reject(RejectReason.INVALID_FIELD, f"bad embedded record: {error}", raw)
        self._check_settings(article)
        if article.input_offset >= 0:
            if article.input_offset <= self._input_offsets.get(article.input_partition, -1):
                self.redelivered += 1
                return None
            self._input_offsets[article.input_partition] = article.input_offset
        return self.buffer.push(
            Held(article, extra), article.published_at, article.id, article.input_partition
        )

    def _check_settings(self, article: EmbeddedArticle) -> None:
        if self._embedder_name is not None:
            return
        self._embedder_name = article.embedder
        expected = self._expected_fingerprint
        if expected is not None and expected != settings_fingerprint(self._settings, article.embedder):
            raise ConfigurationError(
                "the tracker checkpoint was written with other tracker, alert or embedder settings than "
                "this worker's; restore those settings, or replay history under a new "
                "STREAMS_KAFKA__TOPIC_PREFIX (python -m streams replay --from-prefix)"
            )

    def checkpoint_due(self) -> bool:
        every = self._settings.worker.checkpoint_every
        return bool(every) and self._since_checkpoint >= every and self._embedder_name is not None

    def checkpoint_state(self) -> Checkpoint:
        """The state now (call on the loop between messages; encode with ``to_bytes`` anywhere)."""
        assert self._detector is not None and self._embedder_name is not None
        self._since_checkpoint = 0

        def encode(held: Held[T]) -> Any:
            return held.article.model_dump(mode="json")

        return Checkpoint(
            offset=self.position,
            fingerprint=settings_fingerprint(self._settings, self._embedder_name),
            dimension=self._detector.dimension,
            detector=self._detector.to_state(),
            buffer=self.buffer.to_state(encode),
            input_offsets={str(partition): offset for partition, offset in self._input_offsets.items()},
        )
