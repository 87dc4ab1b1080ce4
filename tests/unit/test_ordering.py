"""Event-time reordering of items merged from several input partitions, with a fake wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.core.ordering import ReorderBuffer

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
IDLE = 5.0


class FakeClock:
    """Wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


Item = tuple[datetime, str]


def push(buffer: ReorderBuffer[Item], minutes: float, key: str, partition: int) -> list[Item]:
    item = (at(minutes), key)
    return buffer.push(item, item[0], key, partition)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_interleaved_partitions_come_out_in_event_time_order(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=3, idle_seconds=IDLE, wall_clock=clock)
    arrivals = [
        (10, "p0-a", 0), (1, "p1-a", 1), (2, "p1-b", 1), (5, "p2-a", 2), (3, "p1-c", 1), (11, "p0-b", 0),
        (5, "p2-0", 2), (12, "p1-d", 1), (20, "p2-b", 2), (30, "p0-c", 0), (25, "p1-e", 1), (40, "p2-c", 2),
    ]  # fmt: skip
    released: list[Item] = []
    for minutes, key, partition in arrivals:
        released += push(buffer, minutes, key, partition)
    released += buffer.flush()
    assert released == sorted((at(minutes), key) for minutes, key, _ in arrivals)
    assert buffer.late_count == 0
    assert len(buffer) == 0


def test_nothing_is_released_while_an_active_partition_has_not_delivered(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    for minute in range(5):
        assert push(buffer, minute, f"a{minute}", 0) == []
        clock.advance(IDLE / 10)
    assert buffer.release_idle() == []
    assert len(buffer) == 5
    # Partition 1 delivers minute 2: what is strictly older everywhere is safe now.
    assert [key for _, key in push(buffer, 2, "b2", 1)] == ["a0", "a1"]
    # An item at the watermark itself waits: partition 1 may still send another at minute 2.
    assert [key for _, key in push(buffer, 3.5, "b3", 1)] == ["a2", "b2", "a3"]


def test_ties_are_broken_by_key(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 1, "z", 0)
    push(buffer, 1, "b", 1)
    push(buffer, 1, "a", 0)
    released = push(buffer, 2, "c", 1) + push(buffer, 2, "d", 0) + buffer.flush()
    assert [key for _, key in released] == ["a", "b", "z", "c", "d"]


def test_an_idle_partition_stops_holding_back(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 1, "b1", 1)
    push(buffer, 1, "a1", 0)
    push(buffer, 2, "a2", 0)
    clock.advance(IDLE - 1)
    push(buffer, 3, "a3", 0)  # partition 0 stays active; partition 1 has been silent for IDLE - 1 s
    assert buffer.release_idle() == []
    clock.advance(1)  # partition 1 now silent for IDLE seconds; partition 0 for 1 s
    assert [key for _, key in buffer.release_idle()] == ["a1", "b1", "a2"]
    # Partition 0's own latest time still holds its last item back.
    assert len(buffer) == 1


def test_a_partition_that_never_delivered_counts_as_idle_after_idle_seconds(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=4, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 1, "a", 0)
    clock.advance(IDLE / 2)
    assert push(buffer, 2, "b", 0) == []
    clock.advance(IDLE / 2)
    # Partitions 1-3 never delivered and the buffer has existed for IDLE seconds.
    assert [key for _, key in buffer.release_idle()] == ["a"]


def test_when_every_partition_is_idle_everything_goes(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 3, "a3", 0)
    push(buffer, 1, "b1", 1)
    clock.advance(IDLE)
    assert [key for _, key in buffer.release_idle()] == ["b1", "a3"]
    assert buffer.release_idle() == []


def test_late_items_are_released_at_once_and_counted(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 10, "a10", 0)
    clock.advance(IDLE)
    assert [key for _, key in buffer.release_idle()] == ["a10"]
    # Partition 1 wakes up with something older than what was released.
    assert push(buffer, 5, "b5", 1) == [(at(5), "b5")]
    assert buffer.late_count == 1
    assert len(buffer) == 0
    # At the released time: late only when its key sorts before the released item's.
    assert push(buffer, 10, "b10", 1) == []
    assert buffer.late_count == 1
    assert push(buffer, 10, "a0", 1) == [(at(10), "a0")]
    assert buffer.late_count == 2


def test_flush_releases_everything_sorted(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=3, idle_seconds=IDLE, wall_clock=clock)
    for minutes, key, partition in [(9, "x", 0), (3, "y", 1), (3, "c", 0), (7, "z", 1)]:
        push(buffer, minutes, key, partition)
    assert [key for _, key in buffer.flush()] == ["c", "y", "z", "x"]
    assert len(buffer) == 0
    assert buffer.flush() == []


def test_a_partition_beyond_the_configured_count_holds_back_too(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=1, idle_seconds=IDLE, wall_clock=clock)
    assert push(buffer, 1, "new1", 1) == []  # the topic grew a partition
    assert push(buffer, 5, "a5", 0) == []  # partition 1 is at minute 1: a5 waits
    assert [key for _, key in push(buffer, 10, "new10", 1)] == ["new1"]
    assert [key for _, key in push(buffer, 12, "a12", 0)] == ["a5"]


def test_mixed_utc_offsets_compare_by_instant(clock: FakeClock) -> None:
    tehran = datetime(2026, 3, 2, 10, 0, tzinfo=UTC).astimezone(
        datetime.fromisoformat("2026-03-02T00:00:00+03:30").tzinfo
    )
    buffer: ReorderBuffer[str] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    buffer.push("tehran-13:30", tehran, "t", 0)  # 10:00 UTC
    buffer.push("utc-09:00", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), "u", 1)
    assert buffer.flush() == ["utc-09:00", "tehran-13:30"]


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, str]]]:
    """Per-partition sequences in event-time order, merged in a random order: (partitions, arrivals)."""
    partitions = draw(st.integers(1, 4))
    sequences = []
    for partition in range(partitions):
        minutes = sorted(draw(st.lists(st.integers(0, 30), max_size=12)))
        sequences.append(
            [(minute, partition, f"p{partition}-{index}") for index, minute in enumerate(minutes)]
        )
    arrivals = []
    while any(sequences):
        source = draw(st.sampled_from([sequence for sequence in sequences if sequence]))
        arrivals.append(source.pop(0))
    return partitions, arrivals


@given(interleavings())
def test_any_interleaving_gives_the_global_order(case: tuple[int, list[tuple[int, int, str]]]) -> None:
    partitions, arrivals = case
    buffer: ReorderBuffer[Item] = ReorderBuffer(
        partitions=partitions, idle_seconds=IDLE, wall_clock=FakeClock()
    )
    released: list[Item] = []
    for minute, partition, key in arrivals:
        released += push(buffer, minute, key, partition)
    released += buffer.flush()
    assert released == sorted((at(minute), key) for minute, _, key in arrivals)
    assert buffer.late_count == 0


@given(interleavings(), st.lists(st.floats(0, 2 * IDLE), min_size=1))
def test_with_idle_partitions_nothing_is_lost_or_duplicated(
    case: tuple[int, list[tuple[int, int, str]]], pauses: list[float]
) -> None:
    partitions, arrivals = case
    clock = FakeClock()
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=partitions, idle_seconds=IDLE, wall_clock=clock)
    released: list[Item] = []
    for index, (minute, partition, key) in enumerate(arrivals):
        clock.advance(pauses[index % len(pauses)])
        released += push(buffer, minute, key, partition)
        released += buffer.release_idle()
    released += buffer.flush()
    assert sorted(released) == sorted((at(minute), key) for minute, _, key in arrivals)
    # Whatever came out of order was counted as late.
    out_of_order = sum(1 for before, after in pairwise(released) if after < before)
    assert out_of_order <= buffer.late_count


# --------------------------------------------------------------------- drained partitions (``advance``)


def test_a_drained_partition_stops_holding_back_up_to_the_reported_key(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    assert push(buffer, 10, "a", 0) == []  # partition 1 has delivered nothing: anything may come
    assert push(buffer, 10, "c", 0) == []
    # Both partitions are read to their end, and what comes next sorts after (10 min, "a").
    assert buffer.advance([0, 1], (at(10), "a")) == [(at(10), "a")]
    assert len(buffer) == 1  # (10, "c") sorts after the reported key: partition 1 may still send (10, "b")
    assert push(buffer, 10, "b", 1) == []  # partition 0 spoke only up to "a"
    assert buffer.advance([0, 1], (at(10), "c")) == [(at(10), "b"), (at(10), "c")]
    assert buffer.late_count == 0


def test_an_older_report_does_not_move_a_partition_back(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    buffer.advance([0, 1], (at(20), "x"))
    buffer.advance([0, 1], (at(5), "x"))
    assert push(buffer, 15, "a", 0) == [(at(15), "a")]


def test_a_report_on_one_partition_does_not_release_what_another_holds_back(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=3, idle_seconds=IDLE, wall_clock=clock)
    push(buffer, 10, "a", 0)
    push(buffer, 3, "b", 1)
    assert buffer.advance([0, 2], (at(30), "z")) == []  # partition 1 may still send more at 3 minutes
    assert push(buffer, 12, "c", 1) == [(at(3), "b"), (at(10), "a")]


def test_reports_survive_a_checkpoint(clock: FakeClock) -> None:
    buffer: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    buffer.advance([0, 1], (at(10), "m"))
    restored: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    restored.load_state(buffer.to_state(list), lambda item: (item[0], item[1]))
    assert push(restored, 10, "a", 0) == [(at(10), "a")]
    # A checkpoint written before reports existed has none.
    state = buffer.to_state(list)
    del state["drained_through"]
    older: ReorderBuffer[Item] = ReorderBuffer(partitions=2, idle_seconds=IDLE, wall_clock=clock)
    older.load_state(state, lambda item: (item[0], item[1]))
    assert push(older, 10, "a", 0) == []


@st.composite
def ordered_productions(draw: st.DrawFn) -> tuple[int, list[tuple[int, str]], list[int], list[int]]:
    """One producer sending in canonical order over random partitions, read in a random interleaving:
    (partitions, the sent items, each item's partition, the reader's order of partitions to read from)."""
    partitions = draw(st.integers(1, 4))
    minutes = sorted(draw(st.lists(st.integers(0, 20), min_size=1, max_size=30)))
    items = [(minute, f"k{index:02d}") for index, minute in enumerate(minutes)]
    placement = draw(st.lists(st.integers(0, partitions - 1), min_size=len(items), max_size=len(items)))
    reads = draw(st.lists(st.integers(0, partitions - 1), min_size=len(items) * 3, max_size=len(items) * 3))
    return partitions, items, placement, reads


@given(ordered_productions(), st.integers(1, 4))
def test_honest_reports_on_an_ordered_producer_never_make_an_article_late(
    case: tuple[int, list[tuple[int, str]], list[int], list[int]], sent_per_step: int
) -> None:
    """What the worker's embedding stage reports (``streams/kafka/input_progress.py``): after each read,
    the partitions with nothing sent and unread, through the largest key read so far."""
    partitions, items, placement, reads = case
    buffer: ReorderBuffer[Item] = ReorderBuffer(
        partitions=partitions, idle_seconds=IDLE, wall_clock=FakeClock()
    )
    queues: list[list[tuple[int, str]]] = [[] for _ in range(partitions)]
    sent = 0
    largest: tuple[int, str] | None = None
    released: list[Item] = []
    for step, partition in enumerate(reads):
        if sent < len(items) and step % 2 == 0:  # the producer goes on, a few items at a time
            for item, target in zip(items[sent : sent + sent_per_step], placement[sent:], strict=False):
                queues[target].append(item)
            sent = min(len(items), sent + sent_per_step)
        if queues[partition]:
            minute, key = queues[partition].pop(0)
            released += push(buffer, minute, key, partition)
            largest = max(largest or (minute, key), (minute, key))
        if largest is not None:
            drained = [index for index, queue in enumerate(queues) if not queue]
            released += buffer.advance(drained, (at(largest[0]), largest[1]))
    for partition, queue in enumerate(queues):
        for minute, key in queue:
            released += push(buffer, minute, key, partition)
    released += buffer.flush()
    assert buffer.late_count == 0
    assert released == sorted(released)
    assert len(released) == len(items)
