"""Event time: the detector's notion of "now" is the newest ``published_at`` it has processed.

Never the wall clock, so that replaying the same input gives the same stories and alerts.
"""

from __future__ import annotations

from datetime import datetime


class EventClock:
    """A monotonic event-time clock advanced by the articles themselves."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start

    @property
    def now(self) -> datetime | None:
        return self._now

    def advance(self, event_time: datetime) -> datetime:
        """Move to ``event_time`` unless it is older (a late article does not turn time back)."""
        if self._now is None or event_time > self._now:
            self._now = event_time
        return self._now
