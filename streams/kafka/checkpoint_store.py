"""Reading the tracker's recovery data back from Kafka (kafka-python, blocking: call it off the loop)."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from streams.core.checkpoint import CHECKPOINT_KEY
from streams.kafka.clients import client_options
from streams.kafka.topics import TopicNames
from streams.settings import KafkaSettings


def _consumer(settings: KafkaSettings) -> KafkaConsumer:
    room = settings.fetch_max_bytes
    return KafkaConsumer(
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        fetch_max_bytes=room,
        max_partition_fetch_bytes=room,
        consumer_timeout_ms=1000,
    )


def read_range(settings: KafkaSettings, topic: str, start: int, end: int) -> list[tuple[int, bytes]]:
    """(offset, value) of partition 0 of ``topic`` from ``start`` up to ``end`` (exclusive)."""
    if start >= end:
        return []
    consumer = _consumer(settings)
    partition = TopicPartition(topic, 0)
    try:
        consumer.assign([partition])
        consumer.seek(partition, start)
        records: list[tuple[int, bytes]] = []
        while consumer.position(partition) < end:
            batch = consumer.poll(timeout_ms=1000)
            for record in batch.get(partition, []):
                if start <= record.offset < end:
                    records.append((record.offset, record.value or b""))
        return records
    finally:
        consumer.close()


def read_latest_checkpoint(settings: KafkaSettings, topic: str) -> bytes | None:
    """The newest checkpoint on ``topic`` (compacted, one partition), or None when there is none."""
    consumer = _consumer(settings)
    partition = TopicPartition(topic, 0)
    try:
        consumer.assign([partition])
        end = consumer.end_offsets([partition])[partition]
        consumer.seek_to_beginning(partition)
        latest: bytes | None = None
        while consumer.position(partition) < end:
            batch = consumer.poll(timeout_ms=1000)
            for record in batch.get(partition, []):
                if record.key == CHECKPOINT_KEY and record.value:
                    latest = record.value
        return latest
    finally:
        consumer.close()


class KafkaRecoverySource:
    """The tracker's past on the broker: its checkpoint topic and its input topic (``RecoverySource``)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._names = TopicNames.from_prefix(settings.topic_prefix)

    def latest_checkpoint(self) -> bytes | None:
        return read_latest_checkpoint(self._settings, self._names.checkpoints)

    def read_input(self, start: int, end: int) -> list[tuple[int, bytes]]:
        return read_range(self._settings, self._names.embedded, start, end)
