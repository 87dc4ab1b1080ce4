"""Replaying history into the input topic: from a file, or from a time range of an input topic.

Each message keeps its ``published_at`` as the Kafka timestamp, so a time range of the topic can later be
found again with offsets-for-times and re-run after a model or threshold change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from streams.core.messages import InputMessage
from streams.core.preparation import wall_clock_now
from streams.errors import DeliveryError
from streams.kafka.topics import TopicNames, client_options
from streams.records import peek
from streams.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class ReplayItem:
    raw: bytes
    key: bytes | None
    published_at: datetime | None
    # Kafka timestamp: published_at, or for an unreadable message that of the readable one before it,
    # so every partition stays in time order and offsets-for-times finds ranges correctly.
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class ReplayStats:
    sent: int
    seconds: float


def replay_items(messages: Iterable[InputMessage]) -> list[ReplayItem]:
    """Messages in event-time order. Unreadable ones keep their place after the previous readable one,
    so the worker still sees them (and rejects them with a reason)."""
    keyed: list[tuple[tuple[datetime, str, int], ReplayItem]] = []
    last: datetime | None = None
    for index, message in enumerate(messages):
        key, published = _key_and_time(message.raw)
        if published is not None:
            last = published
        sort_time = published or last or datetime.min.replace(tzinfo=UTC)
        keyed.append(
            (
                (sort_time, key.decode() if key and published else "", index),
                ReplayItem(message.raw, key, published, published or last),
            )
        )
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def _key_and_time(raw: bytes) -> tuple[bytes | None, datetime | None]:
    article_id, published_at = peek(raw)
    return (article_id.encode("utf-8") if article_id else None), published_at


def producer(settings: KafkaSettings) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(
        **client_options(settings),
        acks="all",
        linger_ms=5,
        max_request_size=settings.fetch_max_bytes,
    )


def replay_file(
    items: list[ReplayItem],
    settings: KafkaSettings,
    speed: float | None,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    wall_clock: Callable[[], datetime] = wall_clock_now,
) -> ReplayStats:
    """Produce ``items`` into the input topic; ``speed`` N plays N seconds of event time per second,
    None sends at the maximum rate.

    An item dated after the wall clock's now is sent at once with now as its Kafka timestamp: a broker
    refuses timestamps far ahead (Kafka 4: ``log.message.timestamp.after.max.ms``, 1 h), and the worker is
    the one that rejects it, with a reason (``future_timestamp``). Raises ``DeliveryError`` when the broker
    refused any message."""
    topic = TopicNames.from_prefix(settings.topic_prefix).articles
    client = producer(settings)
    started = time.monotonic()
    first_event: datetime | None = None
    failures: list[BaseException] = []
    try:
        for item in tqdm(items, desc="replay", unit="article", disable=not progress):
            now = wall_clock()
            if speed is not None and item.published_at is not None and item.published_at <= now:
                first_event = first_event or item.published_at
                due = (item.published_at - first_event).total_seconds() / speed
                wait = due - (time.monotonic() - started)
                if wait > 0:
                    sleep(wait)
            timestamp = min(item.timestamp, now) if item.timestamp else None
            timestamp_ms = int(timestamp.timestamp() * 1000) if timestamp else None
            future = client.send(topic, value=item.raw, key=item.key, timestamp_ms=timestamp_ms)
            future.add_errback(failures.append)
        client.flush()
    finally:
        client.close()
    if failures:
        raise DeliveryError(
            f"{len(failures)} of {len(items)} messages were not delivered to {topic}; the first error: "
            f"{failures[0]}"
        )
    return ReplayStats(sent=len(items), seconds=time.monotonic() - started)


def replay_topic_range(
    source: KafkaSettings,
    target: KafkaSettings,
    since: datetime | None,
    until: datetime | None,
    progress: bool = True,
) -> ReplayStats:
    """Copy the input messages whose Kafka timestamp (``published_at``) is in [since, until) from the
    source input topic into the target's input topic, partition for partition."""
    from kafka import KafkaConsumer, TopicPartition

    source_topic = TopicNames.from_prefix(source.topic_prefix).articles
    target_topic = TopicNames.from_prefix(target.topic_prefix).articles
    consumer = KafkaConsumer(
        **client_options(source),
        enable_auto_commit=False,
        group_id=None,
        fetch_max_bytes=source.fetch_max_bytes,
        max_partition_fetch_bytes=source.fetch_max_bytes,
    )
    client = producer(target)
    started = time.monotonic()
    sent = 0
    try:
        partitions = [
            TopicPartition(source_topic, p) for p in sorted(consumer.partitions_for_topic(source_topic))
        ]
        consumer.assign(partitions)
        start = _offsets_at(consumer, partitions, since, default=consumer.beginning_offsets(partitions))
        end = _offsets_at(consumer, partitions, until, default=consumer.end_offsets(partitions))
        total = sum(max(0, end[tp] - start[tp]) for tp in partitions)
        bar = tqdm(total=total, desc="replay range", unit="article", disable=not progress)
        for tp in partitions:
            consumer.seek(tp, start[tp])
        remaining = {tp for tp in partitions if start[tp] < end[tp]}
        while remaining:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if tp not in remaining or record.offset >= end[tp]:
                        continue
                    client.send(
                        target_topic,
                        value=record.value,
                        key=record.key,
                        timestamp_ms=record.timestamp,
                        partition=tp.partition,
                    )
                    sent += 1
                    bar.update(1)
                    if record.offset + 1 >= end[tp]:
                        remaining.discard(tp)
        bar.close()
        client.flush()
    finally:
        client.close()
        consumer.close()
    return ReplayStats(sent=sent, seconds=time.monotonic() - started)


def _offsets_at(
    consumer: Any, partitions: list[Any], when: datetime | None, default: dict[Any, int]
) -> dict[Any, int]:
    """First offset at or after ``when`` per partition (the end offset when nothing is that late)."""
    if when is None:
        return dict(default)
    found = consumer.offsets_for_times({tp: int(when.timestamp() * 1000) for tp in partitions})
    ends = consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in partitions}
