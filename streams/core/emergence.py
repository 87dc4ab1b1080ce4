"""Emergence scoring: is a story a burst of fresh coverage from several independent sources?

Two ways to emerge: a burst (``min_articles`` from ``min_sources`` within ``burst_window``), or sustained
coverage (``sustained_min_articles`` from ``sustained_min_sources`` within ``sustained_window``), for
stories told at a slower pace than a burst: a day's story whose posts come hours apart. The sustained path
asks for more articles, so that a slow mixture of unrelated posts rarely reaches it. Explainable on
purpose: the score's components (both windows' counts, the age) travel with every alert.
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
    # Sustained coverage (None: bursts only).
    sustained_window: timedelta | None = None
    sustained_min_articles: int = 0
    sustained_min_sources: int = 0

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> EmergenceRule:
        hours = settings.sustained_window_hours
        return cls(
            burst_window=timedelta(minutes=settings.burst_window_minutes),
            min_articles=settings.min_articles,
            min_sources=settings.min_sources,
            max_age=timedelta(hours=settings.max_story_age_hours),
            sustained_window=timedelta(hours=hours) if hours > 0 else None,
            sustained_min_articles=settings.sustained_min_articles,
            sustained_min_sources=settings.sustained_min_sources,
        )

    def score(self, story: Story, now: datetime) -> Score:
        return self.score_timeline(story.timeline, story.first_seen, now)

    def score_timeline(
        self, timeline: Iterable[tuple[datetime, str]], first_seen: datetime, now: datetime
    ) -> Score:
        """The score of a story given as its (published_at, source) timeline: the story board ranks the
        stories it rebuilds from the topics with the very score the alerts use."""
        start = now - self.burst_window
        sustained_start = now - self.sustained_window if self.sustained_window is not None else None
        recent: list[tuple[datetime, str]] = []
        sustained: list[tuple[datetime, str]] = []
        for time, source in timeline:
            if time > now:
                continue
            if time >= start:
                recent.append((time, source))
            if sustained_start is not None and time >= sustained_start:
                sustained.append((time, source))
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
                sustained_articles=len(sustained) if sustained_start is not None else None,
                sustained_sources=len({source for _, source in sustained})
                if sustained_start is not None
                else None,
            ),
        )

    def is_emerging(self, score: Score) -> bool:
        parts = score.components
        if parts.age_minutes > self.max_age.total_seconds() / 60:
            return False
        burst = parts.window_articles >= self.min_articles and parts.window_sources >= self.min_sources
        return burst or (
            parts.sustained_articles is not None
            and parts.sustained_sources is not None
            and parts.sustained_articles >= self.sustained_min_articles
            and parts.sustained_sources >= self.sustained_min_sources
        )
