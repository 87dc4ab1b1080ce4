"""Event-time ordering of a stream merged from several input partitions.

Articles reach the single story tracker from several input partitions, interleaved in whatever order the
consumers fetched them. Story clustering depends on order, so the tracker releases articles in the
canonical order ``(published_at, id)`` once every input partition has moved past that time (a per-partition
watermark, as in Flink and Dataflow). Two things stop a partition from holding the others back sooner:
- ``advance``: whoever reads the input tells the buffer that a partition has nothing more to deliver that
  sorts at or before a given key (the worker's embedding stage says so for the partitions it has read to
  their end, ``streams/kafka/input_progress.py``), so articles go as soon as the input is drained;
- ``idle_seconds`` of wall-time silence, for partitions nobody reports on, so a quiet feed delays alerts by
  at most that long.
The offline command sorts its input by the same key (``canonical_order_key``, the one definition of that
order), which is why live and offline runs agree.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
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
        # Per partition, the canonical key that nothing it delivers from now on sorts at or before.
        self._drained_through: dict[int, tuple[datetime, str]] = {}
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

    def advance(self, partitions: Iterable[int], through: tuple[datetime, str]) -> list[T]:
        """``partitions`` will deliver nothing more that sorts at or before ``through`` (a
        ``canonical_order_key``); return the items that are now safe to process, in canonical order."""
        for partition in partitions:
            previous = self._drained_through.get(partition)
            if previous is None or through > previous:
                self._drained_through[partition] = through
        return self._release(self._watermark(self._wall_clock()))

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
            "drained_through": {
                str(partition): [moment.isoformat(), key]
                for partition, (moment, key) in self._drained_through.items()
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
        # Absent from checkpoints written before ``advance`` existed.
        self._drained_through = {
            int(partition): (datetime.fromisoformat(moment), key)
            for partition, (moment, key) in state.get("drained_through", {}).items()
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

    def _watermark(self, now: float) -> tuple[datetime, str] | None:
        """Items sorting before this key are safe: no active partition may still deliver one.
        None: nothing can be released."""
        bounds: list[tuple[datetime, str]] = []
        # Partitions beyond the configured count (a topic that grew) count like the others once known.
        known = set(range(self._partitions)) | self._partition_time.keys() | self._drained_through.keys()
        for partition in sorted(known):
            seen_at = self._partition_seen_at.get(partition)
            if seen_at is None and partition >= self._partitions:
                continue  # beyond the configured count and known only from a report: not waited for
            if now - (self._started_at if seen_at is None else seen_at) >= self._idle_seconds:
                continue  # idle: does not hold the others back
            bound = self._bound(partition)
            if bound is None:
                return None  # active, nothing seen or reported yet: anything may still come
            bounds.append(bound)
        if not bounds:
            return (datetime.max.replace(tzinfo=self._heap[0].event_time.tzinfo), "") if self._heap else None
        return min(bounds)

    def _bound(self, partition: int) -> tuple[datetime, str] | None:
        """What ``partition`` lets through: everything strictly older than its newest event time (it may
        still deliver another item at that instant), and everything at or before its reported key (the
        smallest string after a key is the key plus NUL)."""
        bounds: list[tuple[datetime, str]] = []
        if partition in self._partition_time:
            bounds.append((self._partition_time[partition], ""))
        if partition in self._drained_through:
            moment, key = self._drained_through[partition]
            bounds.append((moment, key + "\0"))
        return max(bounds) if bounds else None

    def _release(self, watermark: tuple[datetime, str] | None, everything: bool = False) -> list[T]:
        released: list[T] = []
        while self._heap and (
            everything
            or (watermark is not None and (self._heap[0].event_time, self._heap[0].key) < watermark)
        ):
            pending = heapq.heappop(self._heap)
            self._released_until = (pending.event_time, pending.key)
            released.append(pending.item)
        return released
