"""The worker's Kafka on memory: topics as lists, the tracker's recovery reads, a clock the test moves,
and the input split into partitions as ``streams replay`` and Kafka's partitioner would split it.

What the worker does with a message is its steps' (streams/kafka/*_step.py); these stand in for the broker
around them, so that the real agents and steps run in a unit-speed test.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from streams.core.messages import InputMessage
from streams.kafka.replay import replay_items
from streams.kafka.topics import TopicNames


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]


@dataclass
class MemorySink:
    """A ``RecordSink``: every topic a list of records, offsets from 0 (one partition each)."""

    topics: dict[str, list[Record]] = field(default_factory=lambda: defaultdict(list))
    flushes: int = 0

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes] | None = None
    ) -> None:
        records = self.topics[topic]
        records.append(Record(len(records), key, value, dict(headers or {})))

    async def flush(self) -> None:
        self.flushes += 1

    def values(self, topic: str) -> list[bytes]:
        return [record.value for record in self.topics[topic]]


class MemoryRecovery:
    """A ``RecoverySource`` reading the checkpoints and the tracker's input that ``sink`` holds."""

    def __init__(self, sink: MemorySink, names: TopicNames) -> None:
        self._sink = sink
        self._names = names

    def latest_checkpoint(self) -> bytes | None:
        checkpoints = self._sink.values(self._names.checkpoints)
        return checkpoints[-1] if checkpoints else None

    def read_input(self, start: int, end: int) -> list[tuple[int, bytes]]:
        records = self._sink.topics[self._names.embedded]
        return [(record.offset, record.value) for record in records[max(start, 0) : end]]


class ManualClock:
    """Monotonic seconds that move only when the test says so (the reorder buffer's idle clock)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def partitioned(lines: Iterable[bytes], partitions: int) -> list[list[InputMessage]]:
    """The lines as the input topic holds them after ``streams replay``: in event-time order, each in the
    partition its key hashes to (unkeyed ones spread round robin), offsets from 0 per partition."""
    split: list[list[InputMessage]] = [[] for _ in range(partitions)]
    for index, item in enumerate(replay_items(InputMessage(line) for line in lines)):
        partition = zlib.crc32(item.key) % partitions if item.key else index % partitions
        split[partition].append(InputMessage(item.raw, partition, len(split[partition])))
    return split
