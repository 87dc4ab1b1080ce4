"""The range replay's merge of source partitions into event-time order (no broker: records as the Kafka
client gives them)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.replay import TimeOrderedMerge


@dataclass(frozen=True)
class FakeRecord:
    timestamp: int
    key: bytes | None
    offset: int


def test_nothing_goes_while_a_partition_still_reading_has_nothing_held() -> None:
    merge = TimeOrderedMerge(["p0", "p1"], {"p0": 2, "p1": 1})
    merge.add("p0", FakeRecord(5, b"a", 0))
    assert list(merge.ready()) == []  # p1 may still deliver something earlier than 5
    merge.add("p1", FakeRecord(3, b"b", 0))
    assert [record.key for record, _ in merge.ready()] == [b"b"]
    assert list(merge.ready()) == []  # p1 is empty again and still open
    merge.read_to_end("p1")
    assert [(record.key, tp) for record, tp in merge.ready()] == [(b"a", "p0")]
    assert not merge.done
    merge.read_to_end("p0")
    assert merge.done


def test_full_partitions_and_those_read_to_their_end_stop_fetching() -> None:
    merge = TimeOrderedMerge(["p0", "p1", "p2"], {"p0": 5, "p1": 5, "p2": 0}, hold=2)
    merge.add("p0", FakeRecord(1, b"a", 0))
    merge.add("p0", FakeRecord(2, b"b", 1))
    assert merge.full() == ["p0", "p2"]  # p2 is empty from the start
    assert merge.hungry() == ["p1"]


@given(st.lists(st.lists(st.integers(0, 50), max_size=15), min_size=1, max_size=4), st.randoms())
def test_sorted_partitions_come_out_globally_sorted_whatever_the_fetch_order(
    partitions: list[list[int]], rng: random.Random
) -> None:
    sources = {
        f"p{index}": [FakeRecord(ts, f"k{index}-{n:03d}".encode(), n) for n, ts in enumerate(sorted(times))]
        for index, times in enumerate(partitions)
    }
    merge = TimeOrderedMerge(list(sources), {tp: len(records) for tp, records in sources.items()})
    cursors = dict.fromkeys(sources, 0)
    out: list[FakeRecord] = []
    while not merge.done:
        open_partitions = [tp for tp in sources if cursors[tp] < len(sources[tp])]
        if open_partitions:
            tp = rng.choice(open_partitions)
            for _ in range(rng.randint(1, 3)):  # a poll returns a few records of one partition
                if cursors[tp] < len(sources[tp]):
                    merge.add(tp, sources[tp][cursors[tp]])
                    cursors[tp] += 1
            if cursors[tp] == len(sources[tp]):
                merge.read_to_end(tp)
        out.extend(record for record, _ in merge.ready())
    assert [(r.timestamp, r.key) for r in out] == sorted(
        (r.timestamp, r.key) for records in sources.values() for r in records
    )
