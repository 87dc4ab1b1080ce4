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
    settle: float = 0.0,
    client_options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Read ``topic`` from the beginning until at least ``count`` records arrived (or fail at ``timeout``).

    ``settle`` keeps reading that long after the count is reached, to catch unexpected extra records.
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
        settle_until: float | None = None
        while True:
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(_decode(record.value) for record in batch)
            now = time.monotonic()
            if len(records) >= count:
                settle_until = settle_until or now + settle
                if now >= settle_until:
                    return records
            elif now > deadline:
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
