"""The worker's tracking step without a broker: checkpoints, crash recovery, re-deliveries, revocation, and
the idle timer during a restore."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from support.memory_kafka import ManualClock, MemoryRecovery, MemorySink

from streams.core.calibration import Calibration
from streams.core.checkpoint import Checkpoint
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.preparation import ArticlePreparer
from streams.errors import ConfigurationError
from streams.kafka.output_step import OutputStep
from streams.kafka.topics import TopicNames
from streams.kafka.tracking_step import RecoverySource, TrackingStep
from streams.metrics import StreamsMetrics
from streams.records import Assignment, EmbeddedArticle
from streams.settings import AlertSettings, KafkaSettings, Settings, TrackerSettings, WorkerSettings

EMBEDDER = HashingEmbedder(256)
SETTINGS = Settings(
    worker=WorkerSettings(checkpoint_every=40),
    alerts=AlertSettings(min_articles=2, min_sources=1),
    kafka=KafkaSettings(articles_partitions=2),
)
NAMES = TopicNames.from_prefix(SETTINGS.kafka.topic_prefix)
OUTPUT_TOPICS = (NAMES.assignments, NAMES.stories, NAMES.alerts, NAMES.rejected)


@pytest.fixture(scope="module")
def records(sample_path: Path) -> list[bytes]:
    """The sample as the tracker's input topic holds it: embedded records (and a bad one), offset = index."""
    preparer = ArticlePreparer(Settings(), EMBEDDER)
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    prepared = preparer.prepare(
        [InputMessage(raw=line, partition=index % 2, offset=index) for index, line in enumerate(lines)]
    )
    values = [item.to_json_bytes() for item in prepared if isinstance(item, EmbeddedArticle)]
    values.insert(50, b"{not an embedded record")
    return values


class Harness:
    """One tracking step on memory: its input topic, its outputs, its checkpoints."""

    def __init__(self, records: list[bytes], settings: Settings = SETTINGS, sink: MemorySink | None = None):
        self.records = records
        self.sink = sink or MemorySink()
        # The input topic lives in the sink, where the recovery reads it back from.
        if not self.sink.topics[NAMES.embedded]:
            for value in records:
                asyncio.run(self.sink.send(NAMES.embedded, None, value))
        self.metrics = StreamsMetrics.create()
        self.clock = ManualClock()
        self.step = self.new_step(settings)

    def new_step(self, settings: Settings = SETTINGS, recovery: RecoverySource | None = None) -> TrackingStep:
        output = OutputStep(self.sink, NAMES, self.metrics)
        return TrackingStep(
            settings,
            Calibration(EMBEDDER.default_threshold, centered=True),
            recovery or MemoryRecovery(self.sink, NAMES),
            output,
            self.metrics,
            self.clock,
        )

    def outputs(self) -> list[bytes]:
        return [value for topic in OUTPUT_TOPICS for value in self.sink.values(topic)]

    def feed(self, step: TrackingStep, start: int, end: int) -> None:
        async def run() -> None:
            for offset in range(max(start, 0), min(end, len(self.records))):
                await step.process(offset, self.records[offset], None)

        asyncio.run(run())

    def redelivered(self) -> float:
        value = self.metrics.registry.get_sample_value("streams_articles_redelivered_total")
        return value or 0.0

    def late(self) -> float:
        value = self.metrics.registry.get_sample_value("streams_articles_late_total")
        assert value is not None, "streams_articles_late_total is not exported"
        return value


def checkpoint_offsets(sink: MemorySink) -> list[int]:
    return [Checkpoint.from_bytes(value).offset for value in sink.values(NAMES.checkpoints)]


@pytest.mark.parametrize("crash_at", [45, 130, 260])
@pytest.mark.parametrize("redelivery", ["after the checkpoint", "before the checkpoint"])
def test_a_restarted_tracker_re_emits_from_its_checkpoint_and_ends_like_the_uninterrupted_one(
    records: list[bytes], crash_at: int, redelivery: str
) -> None:
    whole = Harness(records)
    whole.feed(whole.step, 0, len(records))

    crashed = Harness(records)
    crashed.feed(crashed.step, 0, crash_at)
    checkpoint_offset = checkpoint_offsets(crashed.sink)[-1]
    emitted_before_crash = {topic: len(crashed.sink.topics[topic]) for topic in OUTPUT_TOPICS}
    # Kafka delivers again from the group's last committed offset, which may lie on either side.
    first = crash_at - 3 if redelivery == "after the checkpoint" else checkpoint_offset - 5
    restarted = crashed.new_step()
    crashed.feed(restarted, first, len(records))

    assert restarted.restored_from == checkpoint_offset
    assert restarted.position == whole.step.position == len(records) - 1
    # Everything after the checkpoint is emitted (again); the end state is the uninterrupted run's.
    for topic in OUTPUT_TOPICS:
        expected = whole.sink.values(topic)
        before = crashed.sink.values(topic)[: emitted_before_crash[topic]]
        after = crashed.sink.values(topic)[emitted_before_crash[topic] :]
        assert before == expected[: len(before)]
        assert after == expected[len(expected) - len(after) :]
        assert set(before) | set(after) == set(expected)
    assert restarted._checkpoint().detector == whole.step._checkpoint().detector
    # The messages up to the checkpoint that Kafka delivered again were skipped, not tracked twice.
    skipped = max(0, checkpoint_offset - first + 1)
    assert crashed.redelivered() == skipped


def test_checkpoints_are_written_after_a_flush_every_n_messages(records: list[bytes]) -> None:
    harness = Harness(records)
    harness.feed(harness.step, 0, 130)
    assert checkpoint_offsets(harness.sink) == [39, 79, 119]
    assert harness.sink.flushes == 3


def test_without_a_checkpoint_the_tracker_starts_empty(records: list[bytes]) -> None:
    harness = Harness(records)
    harness.feed(harness.step, 10, 11)
    assert harness.step.restored_from is None
    assert harness.step.position == 10
    assert harness.step.active_stories == 0  # held back until the other input partition speaks


def test_a_bad_record_is_a_counted_dead_letter(records: list[bytes]) -> None:
    harness = Harness(records)
    harness.feed(harness.step, 0, 60)
    [dead_letter] = harness.sink.values(NAMES.rejected)
    assert b'"reason":"invalid_field"' in dead_letter
    rejected = harness.metrics.registry.get_sample_value(
        "streams_articles_rejected_total", {"reason": "invalid_field"}
    )
    assert rejected == 1


def test_a_checkpoint_of_other_settings_is_refused_with_what_to_do(records: list[bytes]) -> None:
    harness = Harness(records)
    harness.feed(harness.step, 0, 45)
    other = SETTINGS.model_copy(update={"tracker": TrackerSettings(window_hours=6)})
    with pytest.raises(ConfigurationError, match="other tracker, alert or embedder settings"):
        harness.feed(harness.new_step(other), 45, 46)


def test_an_unreadable_checkpoint_is_refused_with_what_to_do(records: list[bytes]) -> None:
    harness = Harness(records)
    asyncio.run(harness.sink.send(NAMES.checkpoints, b"tracker", b"garbage"))
    with pytest.raises(ConfigurationError, match="delete that topic"):
        harness.feed(harness.step, 0, 1)


def test_an_article_embedded_again_is_skipped_even_after_its_story_closed(records: list[bytes]) -> None:
    # The stateless stage re-embeds articles after a crash; by then their stories may have expired and
    # their ids been forgotten, but their input offsets still tell them apart from new articles.
    harness = Harness(records)
    harness.feed(harness.step, 0, len(records))
    early = EmbeddedArticle.model_validate_json(records[0])
    resent = early.model_copy(update={"input_offset": 10_000}).to_json_bytes()
    assignments = len(harness.sink.topics[NAMES.assignments])

    async def run() -> None:
        await harness.step.process(len(records), early.to_json_bytes(), None)
        # The same article sent again by a producer is a new input message (a new input offset).
        await harness.step.process(len(records) + 1, resent, None)

    asyncio.run(run())
    assert harness.redelivered() == 1
    assert len(harness.sink.topics[NAMES.assignments]) == assignments + 1


def test_a_late_arrival_is_tracked_at_once_and_counted_in_the_late_metric(records: list[bytes]) -> None:
    harness = Harness(records)
    assert harness.late() == 0
    harness.feed(harness.step, 0, 130)
    assert harness.late() == harness.step.late_count  # whatever the sample itself brings out of order
    before, assignments = harness.late(), len(harness.sink.topics[NAMES.assignments])
    articles = [
        EmbeddedArticle.model_validate_json(value) for value in records[:130] if value.startswith(b'{"')
    ]
    oldest = min(articles, key=lambda article: article.published_at)
    newest = max(articles, key=lambda article: article.published_at)
    # Dated before everything the reorder buffer has already released: late, tracked at once.
    late = oldest.model_copy(update={"id": "late-1", "input_offset": 10_000})
    # Dated after everything seen: held back until the other partition passes it, not late.
    held = newest.model_copy(
        update={
            "id": "held-1",
            "input_offset": 10_001,
            "published_at": newest.published_at + timedelta(hours=1),
        }
    )

    async def run() -> None:
        await harness.step.process(130, late.to_json_bytes(), None)
        await harness.step.process(131, held.to_json_bytes(), None)

    asyncio.run(run())
    assert harness.late() == before + 1
    assert harness.step.late_count == harness.late()
    new = [
        Assignment.model_validate_json(value)
        for value in harness.sink.values(NAMES.assignments)[assignments:]
    ]
    assert [assignment.id for assignment in new] == ["late-1"]


def test_a_revoked_tracker_drops_its_state_and_restores_it_when_the_partition_returns(
    records: list[bytes],
) -> None:
    whole = Harness(records)
    whole.feed(whole.step, 0, len(records))
    harness = Harness(records)
    harness.feed(harness.step, 0, 130)
    asyncio.run(harness.step.drop_state())
    assert harness.step.active_stories == 0 and harness.step.position == -1
    # Given back, the partition is read from the group's committed offset on, as after a restart.
    harness.feed(harness.step, 125, len(records))
    assert harness.step.restored_from == 119
    assert harness.step._checkpoint().detector == whole.step._checkpoint().detector


class BlockingRecovery(MemoryRecovery):
    """A recovery whose checkpoint read waits until the test lets it go (a slow broker)."""

    def __init__(self, sink: MemorySink) -> None:
        super().__init__(sink, NAMES)
        self.reading = threading.Event()
        self.release = threading.Event()

    def latest_checkpoint(self) -> bytes | None:
        self.reading.set()
        assert self.release.wait(timeout=30), "the test never released the checkpoint read"
        return super().latest_checkpoint()


def test_the_idle_timer_waits_while_a_checkpoint_is_restored(records: list[bytes]) -> None:
    first = Harness(records)
    first.feed(first.step, 0, 130)
    recovery = BlockingRecovery(first.sink)
    restarted = first.new_step(recovery=recovery)
    emitted = len(first.outputs())

    async def run() -> tuple[int, int]:
        restoring = asyncio.create_task(restarted.process(130, records[130], None))
        # The restore has started (the read runs in a thread, the loop is free) ...
        assert await asyncio.to_thread(recovery.reading.wait, 30)
        first.clock.advance(SETTINGS.tracker.reorder_idle_seconds + 1)
        timer = asyncio.create_task(restarted.release_idle())
        for _ in range(10):  # give the timer every chance to run ahead
            await asyncio.sleep(0)
        assert not timer.done(), "the timer ran while the checkpoint was being restored"
        during = len(first.outputs())
        recovery.release.set()
        await asyncio.wait_for(asyncio.gather(restoring, timer), timeout=30)
        return during, len(first.outputs())

    during, after = asyncio.run(run())
    # ... and the timer released nothing from a buffer that was not restored yet.
    assert during == emitted
    assert after > emitted
    assert restarted.restored_from == 119
