"""Replaying history into the input topic: from a file, or from a time range of an input topic.

Each message keeps its ``published_at`` as the Kafka timestamp, so a time range of the topic can later be
copied again (each record filtered by its own timestamp) and re-run after a model or threshold change.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tqdm import tqdm

from streams.core.messages import InputMessage
from streams.core.preparation import wall_clock_now
from streams.errors import ConfigurationError, DeliveryError
from streams.kafka.clients import client_options
from streams.kafka.topics import TopicNames
from streams.records import peek
from streams.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class ReplayItem:
    raw: bytes
    key: bytes | None
    published_at: datetime | None
    # Kafka timestamp: published_at, or for an unreadable message that of the readable one before it,
    # so every partition stays in time order (a range replay still filters each record by its own timestamp).
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
    stall_timeout_s: float = 60.0,
) -> ReplayStats:
    """Copy the input messages whose Kafka timestamp (``published_at``) is in [since, until) from the
    source input topic into the target's input topic, partition for partition, in offset order, and
    across partitions in event-time order (``TimeOrderedMerge``), as ``replay_file`` sends: the worker
    lets an article go as soon as the other partitions are read to their end
    (``streams/kafka/input_progress.py``), which is exact only for input sent in that order.

    Timestamps need not be in offset order (a late article, a replay of older news): each partition is read
    from the first offset at or after ``since`` (``_offsets_at``: the broker's earliest offset with a
    timestamp >= since, so nothing before it is in range) to its end offset when the copy starts, and every
    record is filtered by its own timestamp. Raises ``DeliveryError`` (with the count) when the target
    refused any message, ``ConfigurationError`` when the source topic is missing, the target has fewer
    partitions, or the source stops answering for ``stall_timeout_s``."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    source_topic = TopicNames.from_prefix(source.topic_prefix).articles
    target_topic = TopicNames.from_prefix(target.topic_prefix).articles
    since_ms = _epoch_ms(since) if since is not None else None
    until_ms = _epoch_ms(until) if until is not None else None
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
    failures: list[BaseException] = []
    try:
        partitions = _source_partitions(consumer, source_topic)
        _check_target_partitions(client, target_topic, partitions)
        consumer.assign(partitions)
        # The end is fixed now: messages produced into the source while copying are not part of the range.
        end = consumer.end_offsets(partitions)
        start = _offsets_at(consumer, partitions, since, default=consumer.beginning_offsets(partitions))
        for tp in partitions:
            consumer.seek(tp, start[tp])
        bar = tqdm(
            total=sum(max(0, end[tp] - start[tp]) for tp in partitions),
            desc="replay range",
            unit="message",
            disable=not progress,
        )
        merge = TimeOrderedMerge(partitions, end)
        last_progress = time.monotonic()
        while not merge.done:
            for tp, records in consumer.poll(timeout_ms=500).items():
                for record in records:
                    if record.offset < end[tp]:
                        bar.update(1)
                        last_progress = time.monotonic()
                        if _in_range(record.timestamp, since_ms, until_ms):
                            merge.add(tp, record)
            # The position, not the last record seen: offsets may have gaps (compaction, transaction markers).
            for tp in partitions:
                if consumer.position(tp) >= end[tp]:
                    merge.read_to_end(tp)
            for record, tp in merge.ready():
                try:
                    future = client.send(
                        target_topic,
                        value=record.value,
                        key=record.key,
                        timestamp_ms=record.timestamp,
                        partition=tp.partition,
                    )
                except KafkaError as error:  # e.g. larger than the producer may send at all
                    failures.append(error)
                else:
                    future.add_errback(failures.append)
                sent += 1
            # A partition far ahead of the others waits (bounded memory); one with nothing held reads on.
            consumer.pause(*merge.full())
            consumer.resume(*merge.hungry())
            if not merge.done and time.monotonic() - last_progress > stall_timeout_s:
                raise ConfigurationError(
                    f"reading {source_topic} stalled: nothing arrived for {stall_timeout_s:.0f}s with "
                    f"{sum(max(0, end[tp] - consumer.position(tp)) for tp in partitions)} messages still "
                    "to read"
                )
        bar.close()
        client.flush()
    finally:
        client.close()
        consumer.close()
    if failures:
        raise DeliveryError(
            f"{len(failures)} of {sent} messages were not delivered to {target_topic}; the first error: "
            f"{failures[0]}"
        )
    return ReplayStats(sent=sent, seconds=time.monotonic() - started)


def _epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as the Kafka timestamps were made (``replay_file``)."""
    return int(moment.timestamp() * 1000)


def _in_range(timestamp_ms: int, since_ms: int | None, until_ms: int | None) -> bool:
    return (since_ms is None or timestamp_ms >= since_ms) and (until_ms is None or timestamp_ms < until_ms)


class TimeOrderedMerge:
    """The records of several partitions, each in offset order, merged by (timestamp, key): the next one
    out is the smallest head once every partition not read to its end has a head to compare."""

    def __init__(self, partitions: Sequence[Any], end: Mapping[Any, int], hold: int = 2000) -> None:
        self._held: dict[Any, deque[Any]] = {tp: deque() for tp in partitions}
        self._open = {tp for tp in partitions if end[tp] > 0}
        self._hold = hold

    @property
    def done(self) -> bool:
        return not self._open and not any(self._held.values())

    def add(self, tp: Any, record: Any) -> None:
        self._held[tp].append(record)

    def read_to_end(self, tp: Any) -> None:
        self._open.discard(tp)

    def ready(self) -> Iterator[tuple[Any, Any]]:
        while True:
            if any(not self._held[tp] for tp in self._open):
                return  # a partition still reading may deliver something smaller
            heads = [
                (_merge_key(queue[0]), index, tp)
                for index, (tp, queue) in enumerate(self._held.items())
                if queue
            ]
            if not heads:
                return
            _, _, tp = min(heads)
            yield self._held[tp].popleft(), tp

    def full(self) -> list[Any]:
        """Partitions to stop fetching: read to their end, or holding ``hold`` records already."""
        return [tp for tp, queue in self._held.items() if tp not in self._open or len(queue) >= self._hold]

    def hungry(self) -> list[Any]:
        return [tp for tp, queue in self._held.items() if len(queue) < self._hold and tp in self._open]


def _merge_key(record: Any) -> tuple[int, bytes]:
    """``replay_file``'s order: event time (the Kafka timestamp), then article id (the key)."""
    return record.timestamp, record.key or b""


def _source_partitions(consumer: Any, topic: str) -> list[Any]:
    from kafka import TopicPartition

    found = consumer.partitions_for_topic(topic)
    if not found:
        raise ConfigurationError(f"the source topic {topic} does not exist: check --from-prefix")
    return [TopicPartition(topic, partition) for partition in sorted(found)]


def _check_target_partitions(client: Any, topic: str, partitions: list[Any]) -> None:
    """Partition for partition keeps each partition's order: the target needs every source partition."""
    available = client.partitions_for(topic)
    missing = sorted(tp.partition for tp in partitions if tp.partition not in available)
    if missing:
        raise ConfigurationError(
            f"{topic} has {len(available)} partitions but the source has {len(partitions)}: create the "
            f"target prefix's topics with STREAMS_KAFKA__ARTICLES_PARTITIONS={len(partitions)} or more"
        )


def _offsets_at(
    consumer: Any, partitions: list[Any], when: datetime | None, default: dict[Any, int]
) -> dict[Any, int]:
    """Per partition, the earliest offset whose timestamp is at or after ``when`` (the end offset when none
    is): Kafka's offsets-for-times answer, so every message before it is earlier than ``when``, whatever
    the order of the timestamps. A safe place to start reading a range, never to end it."""
    if when is None:
        return dict(default)
    found = consumer.offsets_for_times({tp: _epoch_ms(when) for tp in partitions})
    ends = consumer.end_offsets(partitions)
    return {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in partitions}
