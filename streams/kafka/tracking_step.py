"""The tracking step: the story tracker's input topic -> event-time reordering -> the Detector -> the output
step, with the input position, checkpoints and crash recovery. No faust: the worker's ``track_stories``
agent hands it each message, and tests drive it the same way.

Recovery: before the first message a (re)started tracker sees, it loads the latest checkpoint (state after
input offset O) and re-processes its input from O + 1 up to that first message, emitting again what those
articles caused (their outputs may not have left before the crash: at-least-once). Messages at or before
O that Kafka delivers again are already in the state and are skipped.

Re-deliveries from the stateless stage: after a crash or a rebalance it embeds again the articles after its
last committed input offset, so the tracker's input holds some articles twice. The stateless stage handles
each input partition in offset order, so an article whose input offset is not above the highest one already
accepted from its partition is such a re-delivery: skipped and counted, whether or not its story is still
active (ids are forgotten with their story; input offsets are not).

Concurrency: the agent, the idle-partition timer and the revocation handler all reach the same state from
the event loop. One lock makes each of them a whole step (recover, track, emit, checkpoint) that the others
cannot interleave with; in particular the timer never touches the reorder buffer while a checkpoint is being
restored, nor releases articles between a checkpoint's flush and its snapshot of the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from streams.core.calibration import Calibration
from streams.core.checkpoint import Checkpoint, settings_fingerprint
from streams.core.detector import Detector, TrackResult
from streams.core.ordering import ReorderBuffer, canonical_order_key
from streams.errors import ConfigurationError, RejectReason
from streams.kafka.input_progress import InputProgress
from streams.kafka.output_step import OutputStep
from streams.metrics import StreamsMetrics, Trace
from streams.records import EmbeddedArticle, reject
from streams.settings import Settings

log = logging.getLogger(__name__)


class RecoverySource(Protocol):
    """Where a restarted tracker reads its past from (blocking: the step calls it off the event loop)."""

    def latest_checkpoint(self) -> bytes | None:
        """The newest checkpoint, None when there is none."""
        ...

    def read_input(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """(offset, value) of the tracker's input topic from ``start`` up to ``end`` (exclusive)."""
        ...


@dataclass(frozen=True, slots=True)
class _Held:
    """An article in the reorder buffer with its latency trace (None for re-processed input)."""

    article: EmbeddedArticle
    trace: Trace | None


class TrackingStep:
    """Reorder buffer + Detector + input position, with checkpoints of all three; sends through ``output``."""

    def __init__(
        self,
        settings: Settings,
        calibration: Calibration,
        recovery: RecoverySource,
        output: OutputStep,
        metrics: StreamsMetrics,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._calibration = calibration
        self._recovery = recovery
        self._output = output
        self._metrics = metrics
        self._wall_clock = wall_clock
        self._lock = asyncio.Lock()
        self._fresh_state()

    def _fresh_state(self) -> None:
        self._detector = Detector(self._settings, calibration=self._calibration)
        self._buffer: ReorderBuffer[_Held] = ReorderBuffer(
            partitions=self._settings.kafka.articles_partitions,
            idle_seconds=self._settings.tracker.reorder_idle_seconds,
            wall_clock=self._wall_clock,
        )
        # Offset of the last input message whose effects are in the state (-1: none).
        self._position = -1
        # Set once the newest checkpoint is restored (or known absent): before, the state is not this
        # tracker's yet.
        self._recovered = False
        self._since_checkpoint = 0
        self._restored_from: int | None = None
        self._expected_fingerprint: str | None = None
        self._embedder_name: str | None = None
        # Highest input offset accepted per input partition (see the module's note on re-deliveries).
        self._input_offsets: dict[int, int] = {}

    @property
    def active_stories(self) -> int:
        return self._detector.active_stories

    @property
    def position(self) -> int:
        return self._position

    @property
    def restored_from(self) -> int | None:
        """The input offset of the checkpoint this tracker restored, None when it started empty."""
        return self._restored_from

    @property
    def late_count(self) -> int:
        """Articles that reached the reorder buffer after the watermark had passed them."""
        return self._buffer.late_count

    # ------------------------------------------------------------- the three entry points

    async def process(
        self, offset: int, raw: bytes, trace: Trace | None, progress: InputProgress | None = None
    ) -> None:
        """One message of the tracker's input topic: recover first if it is the first, track what it
        (and the input ``progress`` it carries) releases, emit the results, and write a checkpoint when
        one is due."""
        async with self._lock:
            if not self._recovered:
                await self._recover(offset)
            await self._accept(offset, raw, trace)
            if progress is not None:
                await self._track_and_emit(self._buffer.advance(progress.partitions, progress.through))
            if self._checkpoint_due():
                await self._output.checkpoint(self._checkpoint())

    async def release_idle(self) -> None:
        """Release what idle input partitions no longer hold back (the worker's 1 s timer)."""
        async with self._lock:
            if self._recovered:  # before recovery the buffer is not this tracker's yet
                await self._track_and_emit(self._buffer.release_idle())

    async def drop_state(self) -> None:
        """Forget everything: the tracker's partition moved to another worker, which moves on from the last
        checkpoint. When it comes back, the state is restored from the newest checkpoint, as on a restart."""
        async with self._lock:
            if self._recovered:
                log.info(
                    "tracker partition revoked: its state is dropped until the partition is assigned again"
                )
            self._fresh_state()

    # ------------------------------------------------------------- inside the lock

    async def _recover(self, first_offset: int) -> None:
        """Restore the newest checkpoint and re-process the input that followed it, up to ``first_offset``."""
        raw = await asyncio.to_thread(self._recovery.latest_checkpoint)
        if raw is None:
            log.info("no tracker checkpoint: starting with no stories at input offset %d", first_offset)
            self._recovered = True
            return
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
        records = await asyncio.to_thread(self._recovery.read_input, checkpoint.offset + 1, first_offset)
        self._recovered = True
        for offset, value in records:
            await self._accept(offset, value, None)

    def _restore(self, checkpoint: Checkpoint) -> None:
        self._expected_fingerprint = checkpoint.fingerprint
        self._detector.load_state(checkpoint.dimension, checkpoint.detector)
        self._buffer.load_state(
            checkpoint.buffer, lambda item: _Held(EmbeddedArticle.model_validate(item), None)
        )
        self._position = checkpoint.offset
        self._input_offsets = {
            int(partition): offset for partition, offset in checkpoint.input_offsets.items()
        }
        self._restored_from = checkpoint.offset

    async def _accept(self, offset: int, raw: bytes, trace: Trace | None) -> None:
        """One input message: skip a re-delivery, dead-letter a bad record, or buffer it and track what
        the buffer releases."""
        if offset <= self._position:
            self._metrics.articles_redelivered.inc()
            return
        self._position = offset
        self._since_checkpoint += 1
        try:
            article = EmbeddedArticle.model_validate_json(raw)
        except ValidationError as error:
            rejection = reject(RejectReason.INVALID_FIELD, f"bad embedded record: {error}", raw)
            await self._output.emit(TrackResult(rejection=rejection), None)
            return
        self._check_settings(article)
        if article.input_offset >= 0:
            if article.input_offset <= self._input_offsets.get(article.input_partition, -1):
                self._metrics.articles_redelivered.inc()
                return
            self._input_offsets[article.input_partition] = article.input_offset
        event_time, key = canonical_order_key(article)
        late_before = self._buffer.late_count
        released = self._buffer.push(_Held(article, trace), event_time, key, article.input_partition)
        self._metrics.observe_late(self._buffer.late_count - late_before)
        await self._track_and_emit(released)

    async def _track_and_emit(self, released: list[_Held]) -> None:
        # Tracked first, then sent: the state never waits on the broker halfway through a release.
        outcomes = []
        for held in released:
            with self._metrics.tracker_duration.time():
                outcomes.append((self._detector.track(held.article), held.trace))
        self._metrics.observe_tracker_state(self.active_stories, len(self._buffer))
        for result, trace in outcomes:
            await self._output.emit(result, trace)

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

    def _checkpoint_due(self) -> bool:
        every = self._settings.worker.checkpoint_every
        # Nothing tracked yet (everything still buffered): no story state to save.
        known = self._embedder_name is not None and self._detector.dimension is not None
        return bool(every) and self._since_checkpoint >= every and known

    def _checkpoint(self) -> Checkpoint:
        """The state now (taken on the loop between messages; the output step encodes it off the loop)."""
        dimension = self._detector.dimension
        assert dimension is not None and self._embedder_name is not None
        self._since_checkpoint = 0

        def encode(held: _Held) -> Any:
            return held.article.model_dump(mode="json")

        return Checkpoint(
            offset=self._position,
            fingerprint=settings_fingerprint(self._settings, self._embedder_name),
            dimension=dimension,
            detector=self._detector.to_state(),
            buffer=self._buffer.to_state(encode),
            input_offsets={str(partition): offset for partition, offset in self._input_offsets.items()},
        )
