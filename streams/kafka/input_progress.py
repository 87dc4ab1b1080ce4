"""What the embedding stage tells the tracker about its input: which partitions it has read to their end.

The tracker releases an article once no input partition can still deliver one that sorts before it
(``streams/core/ordering.py``). A partition the embedding stage has read to its end (every offset below
the partition's end offset, asked from the broker after the batch was read, is processed and sent) will
deliver only messages produced after that question; a producer that writes in event-time order (``python
-m streams replay``, ``replay-range``) produces those after everything already read, so they sort after the
largest ``canonical_order_key`` the stage has sent. That pair, the drained partitions and that key, travels
in a header of the batch's last embedded record, behind every record it speaks for (the tracker's input
has one partition). Without it a drained partition would hold every article back until the next message
on it, or until ``reorder_idle_seconds`` of silence: up to seconds of latency at a few articles a second.

With producers that do not write in event-time order (several live feeds), a drained partition can still
deliver an older article later; the tracker then processes it at once and counts it late, as it does for
an article that arrives after an idle partition was let go. Replays stay exact.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

PROGRESS_HEADER = "streams-drained"


@dataclass(frozen=True, slots=True)
class InputProgress:
    """Input partitions with nothing left to deliver that sorts at or before ``through``."""

    partitions: tuple[int, ...]
    through: tuple[datetime, str]

    def to_headers(self) -> dict[str, bytes]:
        moment, key = self.through
        value = {"partitions": list(self.partitions), "at": moment.isoformat(), "id": key}
        return {PROGRESS_HEADER: json.dumps(value, separators=(",", ":")).encode("utf-8")}

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes] | None) -> InputProgress | None:
        """The progress in ``headers``; None when absent or unreadable (then nothing is released early)."""
        raw = (headers or {}).get(PROGRESS_HEADER)
        if not raw:
            return None
        try:
            value = json.loads(raw)
            partitions = tuple(int(partition) for partition in value["partitions"])
            moment = datetime.fromisoformat(value["at"])
            key = value["id"]
        except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
            return None
        if moment.tzinfo is None or not isinstance(key, str):
            return None
        return cls(partitions, (moment, key))


def drained_partitions(
    processed: Mapping[int, int],
    end_offsets: Mapping[int, int | None],
    committed: Mapping[int, int | None] | None = None,
) -> tuple[int, ...]:
    """The partitions of ``end_offsets`` (the assigned ones, with the offset the next message will get;
    None: unknown) whose every message is processed: up to ``processed`` (the highest offset per
    partition this stage has sent on) or before ``committed`` (the group's next offset to read, all of it
    handled by whoever read it, e.g. before a restart)."""
    drained = []
    for partition, end in end_offsets.items():
        if end is None:
            continue
        after_processed = processed.get(partition, -1) + 1
        after_committed = (committed or {}).get(partition) or 0
        if max(after_processed, after_committed) >= end:
            drained.append(partition)
    return tuple(sorted(drained))
