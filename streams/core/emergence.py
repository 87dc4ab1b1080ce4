"""Emergence scoring: is a story a burst of fresh coverage from several independent sources?

Explainable on purpose: the score's components travel with every alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.core.story import Story
from streams.records import Score, ScoreComponents


@dataclass(frozen=True, slots=True)
class EmergenceRule:
    """A story is emerging when, within ``burst_window`` before now, it has at least ``min_articles``
    articles from at least ``min_sources`` sources, and it is younger than ``max_age``."""

    burst_window: timedelta
    min_articles: int
    min_sources: int
    max_age: timedelta

    def score(self, story: Story, now: datetime) -> Score:
        start = now - self.burst_window
        recent = [(time, source) for time, source in story.timeline if start <= time <= now]
        sources = len({source for _, source in recent})
        hours = self.burst_window.total_seconds() / 3600
        rate = len(recent) / hours
        # Rate weighted by source diversity: one channel posting ten times is less news than five channels.
        value = rate * min(1.0, sources / max(self.min_sources, 1))
        return Score(
            value=round(value, 6),
            components=ScoreComponents(
                window_articles=len(recent),
                window_sources=sources,
                rate_per_hour=round(rate, 6),
                age_minutes=round((now - story.first_seen).total_seconds() / 60, 3),
            ),
        )

    def is_emerging(self, score: Score) -> bool:
        parts = score.components
        return (
            parts.window_articles >= self.min_articles
            and parts.window_sources >= self.min_sources
            and parts.age_minutes <= self.max_age.total_seconds() / 60
        )
