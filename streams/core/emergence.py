"""Emergence scoring: is a story a burst of fresh coverage from several independent sources?

Explainable on purpose: the score's components travel with every alert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.core.story import Story
from streams.records import Score, ScoreComponents
from streams.settings import AlertSettings


@dataclass(frozen=True, slots=True)
class EmergenceRule:
    """A story is emerging when, within ``burst_window`` before now, it has at least ``min_articles``
    articles from at least ``min_sources`` sources, and it is younger than ``max_age``."""

    burst_window: timedelta
    min_articles: int
    min_sources: int
    max_age: timedelta

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> EmergenceRule:
        return cls(
            burst_window=timedelta(minutes=settings.burst_window_minutes),
            min_articles=settings.min_articles,
            min_sources=settings.min_sources,
            max_age=timedelta(hours=settings.max_story_age_hours),
        )

    def score(self, story: Story, now: datetime) -> Score:
        return self.score_timeline(story.timeline, story.first_seen, now)

    def score_timeline(
        self, timeline: Iterable[tuple[datetime, str]], first_seen: datetime, now: datetime
    ) -> Score:
        """The score of a story given as its (published_at, source) timeline: the story board ranks the
        stories it rebuilds from the topics with the very score the alerts use."""
        start = now - self.burst_window
        recent = [(time, source) for time, source in timeline if start <= time <= now]
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
                age_minutes=round((now - first_seen).total_seconds() / 60, 3),
            ),
        )

    def is_emerging(self, score: Score) -> bool:
        parts = score.components
        return (
            parts.window_articles >= self.min_articles
            and parts.window_sources >= self.min_sources
            and parts.age_minutes <= self.max_age.total_seconds() / 60
        )
