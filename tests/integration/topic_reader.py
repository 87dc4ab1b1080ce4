"""Reading whole topics in tests, waiting on conditions rather than sleeping."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def read_until(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float,
    client_options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until at least ``count`` records arrived (or fail at ``timeout``).

    To know that no extra record follows, stop the writer and ``read_to_end``.
    ``client_options`` (``streams.kafka.topics.client_options``) replace ``bootstrap``, e.g. to log in with
    SASL.
    """
    connection = client_options or {"bootstrap_servers": [bootstrap]}
    consumer = KafkaConsumer(
        **connection,
        group_id=None,
        enable_auto_commit=False,
        # Room for the largest input message (the 20 MB bad-input case).
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=64 * 1024 * 1024,
    )
    records: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(topic):
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} never appeared")
            time.sleep(0.2)
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        while True:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(_decode(record.value) for record in batch)
            if len(records) >= count:
                return records
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: {len(records)} records after {timeout:.0f}s, wanted {count}")
    finally:
        consumer.close()


def _decode(value: bytes) -> dict[str, Any]:
    """A JSON object as it is; anything else (input topics carry malformed messages too) wrapped."""
    try:
        decoded = json.loads(value)
    except ValueError:
        return {"_raw": value}
    return decoded if isinstance(decoded, dict) else {"_raw": value}


def read_to_end(bootstrap: str, topic: str, timeout: float = 60) -> list[dict[str, Any]]:
    """Every record of every partition of ``topic`` up to its end offsets now (each partition in offset
    order, partitions one after the other): the whole topic, once nothing writes to it any more."""
    return [_decode(record.value) for record in read_records_to_end(bootstrap, topic, timeout)]


def read_records_to_end(bootstrap: str, topic: str, timeout: float = 60) -> list[Any]:
    """``read_to_end``'s records as the client gives them (value, headers, offset, timestamp)."""
    consumer = KafkaConsumer(
        bootstrap_servers=[bootstrap],
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=64 * 1024 * 1024,
    )
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"there is no topic {topic}"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        by_partition: dict[int, list[Any]] = {tp.partition: [] for tp in partitions}
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: not read to its end offsets {ends} within {timeout:.0f}s")
            for tp, batch in consumer.poll(timeout_ms=300).items():
                by_partition[tp.partition].extend(r for r in batch if r.offset < ends[tp])
        return [record for tp in partitions for record in by_partition[tp.partition]]
    finally:
        consumer.close()
