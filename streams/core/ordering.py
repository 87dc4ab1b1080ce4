"""Event-time ordering of a stream merged from several input partitions.

Articles reach the single story tracker from several input partitions, interleaved in whatever order the
consumers fetched them. Story clustering depends on order, so the tracker releases articles in the
canonical order ``(published_at, id)`` once every input partition has moved past that time (a per-partition
watermark, as in Flink and Dataflow). A partition that has been silent for ``idle_seconds`` of wall time
stops holding the others back, so a quiet feed delays alerts by at most that long.
The offline command sorts its input by the same key (``canonical_order_key``, the one definition of that
order), which is why live and offline runs agree.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from streams.records import EmbeddedArticle


def canonical_order_key(article: EmbeddedArticle) -> tuple[datetime, str]:
    """The order the story tracker sees articles in: event time, then id (offline and live alike)."""
    return (article.published_at, article.id)


@dataclass(order=True)
class _Pending[T]:
    event_time: datetime
    key: str
    sequence: int
    item: T = field(compare=False)


class ReorderBuffer[T]:
    """Holds items until the event-time watermark of all input partitions has passed them."""

    def __init__(
        self,
        partitions: int,
        idle_seconds: float,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._partitions = partitions
        self._idle_seconds = idle_seconds
        self._wall_clock = wall_clock
        self._heap: list[_Pending[T]] = []
        self._sequence = 0
        self._partition_time: dict[int, datetime] = {}
        self._partition_seen_at: dict[int, float] = {}
        self._started_at = wall_clock()
        # (event_time, key) of the last released item: anything that sorts before it comes too late.
        self._released_until: tuple[datetime, str] | None = None
        self._late = 0

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def late_count(self) -> int:
        """Items that arrived after the watermark had passed them (processed out of order)."""
        return self._late

    def push(self, item: T, event_time: datetime, key: str, partition: int) -> list[T]:
        """Add an item (``event_time`` and ``key``: its ``canonical_order_key``); return the items that are
        now safe to process, in canonical order."""
        now = self._wall_clock()
        self._partition_seen_at[partition] = now
        previous = self._partition_time.get(partition)
        if previous is None or event_time > previous:
            self._partition_time[partition] = event_time
        if self._released_until is not None and (event_time, key) < self._released_until:
            # Later than the watermark already released: process now rather than never.
            self._late += 1
            return [item]
        self._sequence += 1
        heapq.heappush(self._heap, _Pending(event_time, key, self._sequence, item))
        return self._release(self._watermark(now))

    def to_state(self, encode_item: Callable[[T], Any]) -> dict[str, Any]:
        """Held items and watermarks as plain JSON (wall-clock idleness is not kept: it restarts)."""
        return {
            "held": [
                [pending.event_time.isoformat(), pending.key, pending.sequence, encode_item(pending.item)]
                for pending in sorted(self._heap)
            ],
            "sequence": self._sequence,
            "partition_time": {
                str(partition): moment.isoformat() for partition, moment in self._partition_time.items()
            },
            "released_until": None
            if self._released_until is None
            else [self._released_until[0].isoformat(), self._released_until[1]],
            "late": self._late,
        }

    def load_state(self, state: dict[str, Any], decode_item: Callable[[Any], T]) -> None:
        self._heap = [
            _Pending(datetime.fromisoformat(moment), key, sequence, decode_item(item))
            for moment, key, sequence, item in state["held"]
        ]
        heapq.heapify(self._heap)
        self._sequence = state["sequence"]
        self._partition_time = {
            int(partition): datetime.fromisoformat(moment)
            for partition, moment in state["partition_time"].items()
        }
        now = self._wall_clock()
        self._partition_seen_at = dict.fromkeys(self._partition_time, now)
        released = state["released_until"]
        self._released_until = (
            None if released is None else (datetime.fromisoformat(released[0]), released[1])
        )
        self._late = state["late"]

    def release_idle(self) -> list[T]:
        """Release what idle partitions no longer hold back (call periodically)."""
        return self._release(self._watermark(self._wall_clock()))

    def flush(self) -> list[T]:
        """Release everything (end of input)."""
        return self._release(None, everything=True)

    def _watermark(self, now: float) -> datetime | None:
        """Oldest event time an active partition may still deliver; None: nothing can be released."""
        times: list[datetime] = []
        for partition in range(self._partitions):
            seen_at = self._partition_seen_at.get(partition, self._started_at)
            if now - seen_at >= self._idle_seconds:
                continue  # idle: does not hold the others back
            if partition not in self._partition_time:
                return None  # active but nothing seen yet: anything may still come
            times.append(self._partition_time[partition])
        # Partitions beyond the configured count (a topic that grew) count like the others.
        for partition, event_time in self._partition_time.items():
            if (
                partition >= self._partitions
                and now - self._partition_seen_at[partition] < self._idle_seconds
            ):
                times.append(event_time)
        if not times:
            return datetime.max.replace(tzinfo=self._heap[0].event_time.tzinfo) if self._heap else None
        return min(times)

    def _release(self, watermark: datetime | None, everything: bool = False) -> list[T]:
        released: list[T] = []
        # Strictly older than the watermark: a partition may still deliver another item at that instant.
        while self._heap and (everything or (watermark is not None and self._heap[0].event_time < watermark)):
            pending = heapq.heappop(self._heap)
            self._released_until = (pending.event_time, pending.key)
            released.append(pending.item)
        return released
