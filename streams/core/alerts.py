"""Alert policy: turn emergence scores into alerts, once per story and threshold, with stable ids."""

from __future__ import annotations

import hashlib
from datetime import datetime

from streams.core.emergence import EmergenceRule
from streams.core.story import Story
from streams.records import Alert

MAX_ALERT_IDS = 50


def alert_id_for(story_id: str, alert_type: str, rule: EmergenceRule) -> str:
    """The same story crossing the same threshold always gets the same id (consumers dedupe on it)."""
    threshold = f"{rule.min_articles}/{rule.min_sources}/{rule.burst_window.total_seconds():g}"
    digest = hashlib.sha256(f"{story_id}|{alert_type}|{threshold}".encode()).hexdigest()
    return f"a-{digest[:24]}"


class AlertPolicy:
    """Decides, after each story change, whether an alert goes out."""

    def __init__(self, rule: EmergenceRule) -> None:
        self._rule = rule
        self._alerted: set[str] = set()

    def consider(self, story: Story, now: datetime) -> Alert | None:
        if story.story_id in self._alerted:
            return None
        score = self._rule.score(story, now)
        if not self._rule.is_emerging(score):
            return None
        self._alerted.add(story.story_id)
        return Alert(
            alert_id=alert_id_for(story.story_id, "emerging", self._rule),
            type="emerging",
            story_id=story.story_id,
            at=now,
            headline=story.central_headline(),
            keywords=story.keywords(),
            article_ids=story.article_ids[:MAX_ALERT_IDS],
            sources=sorted(story.sources),
            article_count=story.article_count,
            first_seen=story.first_seen,
            score=score,
        )

    def to_state(self) -> list[str]:
        return sorted(self._alerted)

    def load_state(self, state: list[str]) -> None:
        self._alerted = set(state)

    def merge(self, absorbed_id: str, survivor_id: str) -> None:
        """``absorbed_id`` merged into ``survivor_id``: an alert on either stands for the event, once."""
        if absorbed_id in self._alerted:
            self._alerted.discard(absorbed_id)
            self._alerted.add(survivor_id)

    def forget(self, story_id: str) -> None:
        """A closed story cannot alert again: drop its bookkeeping."""
        self._alerted.discard(story_id)
