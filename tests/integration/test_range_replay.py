"""Range replay (``replay --from-prefix``, ``replay_topic_range``) on the real broker: it copies exactly the
messages whose timestamps fall in [since, until) even when they are out of order, keeps each partition's
order, and never loses a refused message silently."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from harness import ROOT
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient

from streams.errors import ConfigurationError, DeliveryError
from streams.kafka.replay import replay_topic_range
from streams.kafka.topics import TopicNames, ensure_topics
from streams.settings import KafkaSettings

pytestmark = pytest.mark.integration

PARTITIONS = 4
SINCE = datetime(2026, 3, 10, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=2)


@dataclass(frozen=True, slots=True)
class Message:
    key: bytes | None
    value: bytes
    timestamp_ms: int


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def kafka_settings(bootstrap: str, prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=prefix, articles_partitions=PARTITIONS)


def produce(bootstrap: str, topic: str, by_partition: dict[int, list[Message]]) -> None:
    """Each partition's messages in list order (offset order), every delivery checked."""
    client = KafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=2 * 1024 * 1024)
    try:
        futures = [
            client.send(topic, value=m.value, key=m.key, timestamp_ms=m.timestamp_ms, partition=partition)
            for partition, messages in by_partition.items()
            for m in messages
        ]
        client.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        client.close()


def read_partitions(bootstrap: str, topic: str, timeout: float = 60) -> dict[int, list[Message]]:
    """Every record of every partition of ``topic`` up to its end offset now, in offset order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        found: dict[int, list[Message]] = {tp.partition: [] for tp in partitions}
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"{topic} not read to its end within {timeout:.0f}s"
            for tp, records in consumer.poll(timeout_ms=300).items():
                found[tp.partition] += [
                    Message(r.key, r.value, r.timestamp) for r in records if r.offset < ends[tp]
                ]
        return found
    finally:
        consumer.close()


def shuffled_stream(rng: random.Random) -> dict[int, list[Message]]:
    """Per partition, messages whose timestamps jump back and forth over six days around [SINCE, UNTIL):
    in-range ones after later ones (offsets-for-times on UNTIL would end too early) and earlier ones after
    in-range ones (a start offset alone would copy them), plus the exact boundaries."""
    span_ms = ms(UNTIL + timedelta(days=2)) - ms(SINCE - timedelta(days=2))
    stream: dict[int, list[Message]] = {}
    for partition in range(PARTITIONS):
        moments = [ms(SINCE - timedelta(days=2)) + rng.randrange(span_ms) for _ in range(60)]
        moments += [ms(SINCE), ms(UNTIL), ms(UNTIL) - 1, ms(SINCE) - 1]
        rng.shuffle(moments)
        stream[partition] = [
            Message(
                None if i % 7 == 0 else f"{partition}/{i}".encode(),
                f'{{"id": "{partition}/{i}", "n": {i}}}'.encode(),
                moment,
            )
            for i, moment in enumerate(moments)
        ]
    return stream


def in_range(stream: dict[int, list[Message]]) -> dict[int, list[Message]]:
    return {
        partition: [m for m in messages if ms(SINCE) <= m.timestamp_ms < ms(UNTIL)]
        for partition, messages in stream.items()
    }


def fresh_prefixes(bootstrap: str) -> tuple[KafkaSettings, KafkaSettings]:
    name = f"range-{uuid.uuid4().hex[:8]}"
    return kafka_settings(bootstrap, name), kafka_settings(bootstrap, f"{name}-copy")


def test_out_of_order_timestamps_copy_exactly_the_range_in_partition_order(kafka_bootstrap: str) -> None:
    source, target = fresh_prefixes(kafka_bootstrap)
    ensure_topics(source)
    ensure_topics(target)
    stream = shuffled_stream(random.Random(14))
    produce(kafka_bootstrap, TopicNames.from_prefix(source.topic_prefix).articles, stream)
    expected = in_range(stream)
    # The stream really is out of order around both ends of the range.
    for messages in stream.values():
        stamps = [m.timestamp_ms for m in messages]
        first_in = next(i for i, t in enumerate(stamps) if ms(SINCE) <= t < ms(UNTIL))
        assert any(t >= ms(UNTIL) for t in stamps[:first_in]) or any(t < ms(SINCE) for t in stamps[first_in:])

    stats = replay_topic_range(source, target, SINCE, UNTIL, progress=False)

    copied = read_partitions(kafka_bootstrap, TopicNames.from_prefix(target.topic_prefix).articles)
    assert copied == expected
    assert stats.sent == sum(len(messages) for messages in expected.values())
    # The boundaries: since is in, until is out.
    copied_stamps = {m.timestamp_ms for messages in copied.values() for m in messages}
    assert ms(SINCE) in copied_stamps and ms(UNTIL) - 1 in copied_stamps
    assert ms(UNTIL) not in copied_stamps and ms(SINCE) - 1 not in copied_stamps


def test_without_bounds_everything_is_copied_and_messages_added_later_are_not(kafka_bootstrap: str) -> None:
    source, target = fresh_prefixes(kafka_bootstrap)
    ensure_topics(source)
    ensure_topics(target)
    stream = shuffled_stream(random.Random(7))
    produce(kafka_bootstrap, TopicNames.from_prefix(source.topic_prefix).articles, stream)

    stats = replay_topic_range(source, target, None, None, progress=False)

    assert read_partitions(kafka_bootstrap, TopicNames.from_prefix(target.topic_prefix).articles) == stream
    assert stats.sent == sum(len(messages) for messages in stream.values())


def create_small_target(bootstrap: str, target: KafkaSettings, max_message_bytes: int) -> None:
    """The target's input topic, created before the replay, refusing messages over ``max_message_bytes``."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {
                TopicNames.from_prefix(target.topic_prefix).articles: {
                    "num_partitions": PARTITIONS,
                    "replication_factor": 1,
                    "configs": {"max.message.bytes": str(max_message_bytes)},
                }
            },
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def stream_with_large_messages() -> tuple[dict[int, list[Message]], int, int]:
    """Small in-range messages, three large in-range ones and a large one out of range (never sent).
    Returns the stream, the in-range count and the large in-range count."""
    inside, outside = ms(SINCE + timedelta(hours=1)), ms(UNTIL + timedelta(hours=1))
    large = b'{"id": "large", "text": "' + b"x" * 20_000 + b'"}'
    stream: dict[int, list[Message]] = {p: [] for p in range(PARTITIONS)}
    for i in range(20):
        stream[i % PARTITIONS].append(Message(f"s{i}".encode(), f'{{"id": "s{i}"}}'.encode(), inside + i))
    for i in range(3):
        stream[i].append(Message(f"l{i}".encode(), large, inside + 100 + i))
    stream[3].append(Message(b"late", large, outside))
    return stream, 23, 3


def test_a_refused_delivery_raises_with_the_count_and_the_rest_arrives(kafka_bootstrap: str) -> None:
    source, target = fresh_prefixes(kafka_bootstrap)
    ensure_topics(source)
    create_small_target(kafka_bootstrap, target, max_message_bytes=4096)
    stream, sent, refused = stream_with_large_messages()
    produce(kafka_bootstrap, TopicNames.from_prefix(source.topic_prefix).articles, stream)

    with pytest.raises(DeliveryError) as raised:
        replay_topic_range(source, target, SINCE, UNTIL, progress=False)

    counted = re.match(r"(\d+) of (\d+) messages were not delivered", str(raised.value))
    assert counted, str(raised.value)
    assert (int(counted[1]), int(counted[2])) == (refused, sent)
    assert "TooLarge" in str(raised.value) or "too large" in str(raised.value).lower(), str(raised.value)
    # Everything the target could take did arrive, in order.
    copied = read_partitions(kafka_bootstrap, TopicNames.from_prefix(target.topic_prefix).articles)
    small = {p: [m for m in messages if len(m.value) < 4096] for p, messages in in_range(stream).items()}
    assert copied == small


def test_the_cli_exits_non_zero_with_one_line_when_deliveries_fail(kafka_bootstrap: str) -> None:
    source, target = fresh_prefixes(kafka_bootstrap)
    ensure_topics(source)
    create_small_target(kafka_bootstrap, target, max_message_bytes=4096)
    stream, sent, refused = stream_with_large_messages()
    produce(kafka_bootstrap, TopicNames.from_prefix(source.topic_prefix).articles, stream)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "streams",
            "replay",
            "--from-prefix",
            source.topic_prefix,
            "--since",
            SINCE.isoformat(),
            "--until",
            UNTIL.isoformat(),
            "--no-progress",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--prefix",
            target.topic_prefix,
        ],
        cwd=ROOT,
        env={key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"{refused} of {sent} messages were not delivered" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_missing_source_topic_or_a_target_with_fewer_partitions_is_refused_before_copying(
    kafka_bootstrap: str,
) -> None:
    source, target = fresh_prefixes(kafka_bootstrap)
    ensure_topics(target)
    with pytest.raises(ConfigurationError, match=r"source topic .* does not exist"):
        replay_topic_range(source, target, SINCE, UNTIL, progress=False)

    ensure_topics(source)
    produce(
        kafka_bootstrap,
        TopicNames.from_prefix(source.topic_prefix).articles,
        shuffled_stream(random.Random(3)),
    )
    narrow = kafka_settings(kafka_bootstrap, f"{target.topic_prefix}-narrow").model_copy(
        update={"articles_partitions": 2}
    )
    ensure_topics(narrow)
    with pytest.raises(ConfigurationError, match="has 2 partitions but the source has 4"):
        replay_topic_range(source, narrow, SINCE, UNTIL, progress=False)
    assert read_partitions(kafka_bootstrap, TopicNames.from_prefix(narrow.topic_prefix).articles) == {
        0: [],
        1: [],
    }
