"""The emergence rule: burst window, article and source thresholds, maximum age, score components."""

from __future__ import annotations

from collections import Counter, deque
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.core.emergence import EmergenceRule
from streams.core.story import Story

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULE = EmergenceRule(
    burst_window=timedelta(minutes=60), min_articles=3, min_sources=2, max_age=timedelta(hours=2)
)


def story(*posts: tuple[float, str]) -> Story:
    """A story whose articles were published at (minutes after T0, source)."""
    timeline = deque((T0 + timedelta(minutes=minutes), source) for minutes, source in posts)
    return Story(
        story_id="s-test",
        first_seen=min(time for time, _ in timeline),
        last_seen=max(time for time, _ in timeline),
        headline="h",
        vector_sum=np.zeros(2, dtype=np.float32),
        article_ids=[f"a{index}" for index in range(len(posts))],
        sources=Counter(source for _, source in posts),
        timeline=timeline,
    )


def minutes(value: float) -> datetime:
    return T0 + timedelta(minutes=value)


def test_score_components() -> None:
    burst = story((0, "a"), (10, "b"), (20, "a"), (30, "c"))
    score = RULE.score(burst, minutes(30))
    parts = score.components
    assert parts.window_articles == 4
    assert parts.window_sources == 3
    assert parts.rate_per_hour == 4.0
    assert parts.age_minutes == 30.0
    assert score.value == 4.0  # enough sources: the full rate


def test_only_the_burst_window_counts() -> None:
    burst = story((0, "a"), (50, "b"), (70, "b"), (80, "c"), (130, "d"))
    # At minute 110 the window is [50, 110]: its start is included, minute 130 is in the future.
    parts = RULE.score(burst, minutes(110)).components
    assert (parts.window_articles, parts.window_sources) == (3, 2)
    assert parts.age_minutes == 110.0


def test_few_sources_scale_the_score_down() -> None:
    single = story((0, "a"), (10, "a"), (20, "a"), (30, "a"))
    score = RULE.score(single, minutes(30))
    assert score.components.rate_per_hour == 4.0
    assert score.value == 2.0  # one source of the two needed
    assert not RULE.is_emerging(score)


def test_rate_is_per_hour_of_burst_window() -> None:
    rule = EmergenceRule(timedelta(minutes=180), min_articles=1, min_sources=1, max_age=timedelta(hours=12))
    score = rule.score(story((0, "a"), (1, "b"), (2, "c")), minutes(2))
    assert score.components.rate_per_hour == 1.0
    assert score.value == 1.0


@pytest.mark.parametrize(
    ("posts", "now", "emerging"),
    [
        ([(0, "a"), (10, "b"), (20, "a")], 20, True),  # exactly 3 articles from exactly 2 sources
        ([(0, "a"), (10, "b")], 10, False),  # too few articles
        ([(0, "a"), (10, "a"), (20, "a")], 20, False),  # too few sources
        ([(0, "a"), (70, "b"), (80, "a")], 80, False),  # the first article left the burst window
        ([(0, "a"), (100, "b"), (110, "a"), (120, "c")], 120, True),  # exactly max_age old
        ([(0, "a"), (100, "b"), (110, "a"), (121, "c")], 121, False),  # older than max_age
    ],
)
def test_thresholds(posts: list[tuple[float, str]], now: float, emerging: bool) -> None:
    assert RULE.is_emerging(RULE.score(story(*posts), minutes(now))) is emerging


def test_scores_are_rounded_for_stable_output() -> None:
    rule = EmergenceRule(timedelta(minutes=7), min_articles=1, min_sources=3, max_age=timedelta(hours=1))
    score = rule.score(story((0, "a"), (1, "b")), minutes(1.0 / 3))
    assert score.components.rate_per_hour == round(1 / (7 / 60), 6)
    assert score.value == round(1 / (7 / 60) * (1 / 3), 6)
    assert score.components.age_minutes == 0.333


SUSTAINED = EmergenceRule(
    burst_window=timedelta(minutes=60),
    min_articles=3,
    min_sources=2,
    max_age=timedelta(hours=48),
    sustained_window=timedelta(hours=24),
    sustained_min_articles=4,
    sustained_min_sources=2,
)


@pytest.mark.parametrize(
    ("posts", "now", "emerging"),
    [
        # Four posts from two sources, hours apart: never a burst, but sustained coverage.
        ([(0, "a"), (120, "b"), (240, "a"), (360, "b")], 360, True),
        ([(0, "a"), (120, "b"), (240, "a")], 240, False),  # three: too few for the slow path
        ([(0, "a"), (120, "a"), (240, "a"), (360, "a")], 360, False),  # one source
        ([(0, "a"), (120, "b"), (240, "a"), (1500, "b")], 1500, False),  # the first left the 24 h window
        ([(0, "a"), (10, "b"), (20, "a")], 20, True),  # a burst still emerges at three
    ],
)
def test_sustained_coverage_emerges_at_a_slower_pace(
    posts: list[tuple[float, str]], now: float, emerging: bool
) -> None:
    score = SUSTAINED.score(story(*posts), minutes(now))
    assert SUSTAINED.is_emerging(score) is emerging
    # Without the sustained path only the burst emerges.
    assert RULE.is_emerging(RULE.score(story(*posts), minutes(now))) is (emerging and now == 20)


def test_sustained_counts_travel_with_the_score() -> None:
    score = SUSTAINED.score(story((0, "a"), (120, "b"), (240, "a"), (360, "c")), minutes(360))
    parts = score.components
    assert (parts.sustained_articles, parts.sustained_sources) == (4, 3)
    assert (parts.window_articles, parts.window_sources) == (1, 1)
    assert RULE.score(story((0, "a")), minutes(0)).components.sustained_articles is None
