"""What the embedding stage tells the tracker about its input: the header, which partitions count as read to
their end, and both steps using it (on memory)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.memory_kafka import ManualClock, MemoryRecovery, MemorySink

from streams.core.calibration import Calibration
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.kafka.embedding_step import EmbeddingStep
from streams.kafka.input_progress import PROGRESS_HEADER, InputProgress, drained_partitions
from streams.kafka.output_step import OutputStep
from streams.kafka.topics import TopicNames
from streams.kafka.tracking_step import TrackingStep
from streams.metrics import StreamsMetrics, Trace
from streams.records import EmbeddedArticle
from streams.settings import EmbedderSettings, KafkaSettings, Settings

SETTINGS = Settings(embedder=EmbedderSettings(backend="hashing"), kafka=KafkaSettings(articles_partitions=2))
NAMES = TopicNames.from_prefix(SETTINGS.kafka.topic_prefix)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRACE = Trace(produced_at=None, received_at=0.0)


def test_the_header_round_trips_and_anything_unreadable_reports_nothing() -> None:
    progress = InputProgress((0, 3), (datetime.fromisoformat("2026-03-02T12:30:00+03:30"), "channel/7"))
    assert InputProgress.from_headers(progress.to_headers()) == progress
    for bad in (b"", b"{", b'{"partitions": [0]}', b'{"partitions": ["x"], "at": "2026", "id": "a"}',
                b'{"partitions": [0], "at": "2026-03-02T12:30:00", "id": "a"}'):  # fmt: skip
        assert InputProgress.from_headers({PROGRESS_HEADER: bad}) is None
    assert InputProgress.from_headers(None) is None
    assert InputProgress.from_headers({"other": b"1"}) is None


def test_a_partition_is_drained_when_every_offset_below_its_end_is_handled() -> None:
    ends: dict[int, int | None] = {0: 10, 1: 10, 2: 0, 3: None, 4: 7}
    processed = {0: 9, 1: 8}
    # 0: all read; 1: offset 9 not yet; 2: empty; 3: end unknown; 4: handled before a restart (committed).
    assert drained_partitions(processed, ends, committed={4: 7, 1: 3}) == (0, 2, 4)
    assert drained_partitions(processed, ends) == (0, 2)


@pytest.fixture(scope="module")
def sample_lines(sample_path: Path) -> list[bytes]:
    return [line for line in sample_path.read_bytes().splitlines() if line.strip()][:40]


def embed(
    lines: list[bytes], ends: dict[int, int | None] | None, now: datetime = datetime(2030, 1, 1, tzinfo=UTC)
) -> MemorySink:
    sink = MemorySink()
    metrics = StreamsMetrics.create()
    output = OutputStep(sink, NAMES, metrics)
    step = EmbeddingStep(SETTINGS, lambda s: HashingEmbedder(256), output, metrics, wall_clock=lambda: now)
    batch = [(InputMessage(raw=line, partition=i % 2, offset=i // 2), TRACE) for i, line in enumerate(lines)]
    asyncio.run(step.process(batch, ends))
    return sink


def test_the_last_embedded_record_of_a_batch_names_the_drained_partitions(sample_lines: list[bytes]) -> None:
    half = len(sample_lines) // 2
    # Partition 0 is read to its end; partition 1 has a message after this batch.
    sink = embed(sample_lines, {0: half, 1: half + 1})
    records = sink.topics[NAMES.embedded]
    reports = [InputProgress.from_headers(record.headers) for record in records]
    assert all(report is None for report in reports[:-1])
    last = reports[-1]
    assert last is not None and last.partitions == (0,)
    articles = [EmbeddedArticle.model_validate_json(record.value) for record in records]
    assert last.through == max((article.published_at, article.id) for article in articles)
    # Never through a time after the wall clock's now (an article dated ahead waits for the clock).
    now = min(article.published_at for article in articles) + timedelta(seconds=1)
    early = InputProgress.from_headers(
        embed(sample_lines, {0: half, 1: half + 1}, now).topics[NAMES.embedded][-1].headers
    )
    assert early is not None and early.through == (now, "")
    # Asked nothing (or the broker did not answer): nothing is reported.
    assert all(
        InputProgress.from_headers(r.headers) is None
        for r in embed(sample_lines, None).topics[NAMES.embedded]
    )


def article(minutes: int, article_id: str, partition: int) -> bytes:
    return EmbeddedArticle(
        id=article_id,
        published_at=T0 + timedelta(minutes=minutes),
        source="s",
        headline="h",
        tokens=["خبر"],
        embedding=EmbeddedArticle.encode_vector(HashingEmbedder(256).embed(["خبر"])[0]),
        embedder=HashingEmbedder(256).name,
        input_partition=partition,
        input_offset=minutes,
    ).to_json_bytes()


def test_the_tracker_lets_an_article_go_once_the_other_partitions_are_reported_drained() -> None:
    sink = MemorySink()
    metrics = StreamsMetrics.create()
    step = TrackingStep(
        SETTINGS,
        Calibration(HashingEmbedder(256).default_threshold, centered=True),
        MemoryRecovery(sink, NAMES),
        OutputStep(sink, NAMES, metrics),
        metrics,
        ManualClock(),
    )

    async def run() -> None:
        # Partition 1 has sent nothing yet: without a report the article waits for it.
        await step.process(0, article(1, "a", 0), None)
        assert sink.topics[NAMES.assignments] == []
        await step.process(
            1, article(2, "b", 0), None, InputProgress((0, 1), (T0 + timedelta(minutes=1), "a"))
        )
        assert [r.key for r in sink.topics[NAMES.assignments]] == [b"a"]  # "b" sorts after what was reported

    asyncio.run(run())
