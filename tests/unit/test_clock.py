"""The event clock: time is the newest published_at seen, never the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.core.clock import EventClock

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_starts_unset_or_at_the_given_time() -> None:
    assert EventClock().now is None
    assert EventClock(T0).now == T0


def test_advances_and_never_goes_back() -> None:
    clock = EventClock()
    assert clock.advance(T0) == T0
    assert clock.advance(T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=5)
    # A late article does not turn time back.
    assert clock.advance(T0 + timedelta(minutes=1)) == T0 + timedelta(minutes=5)
    assert clock.now == T0 + timedelta(minutes=5)
