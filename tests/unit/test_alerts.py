"""The alert policy: once per story, stable ids that change with the rule's thresholds."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from streams.core.alerts import MAX_ALERT_IDS, AlertPolicy, alert_id_for
from streams.core.emergence import EmergenceRule
from streams.core.story import Story
from streams.core.story_tracker import StoryTracker

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
RULE = EmergenceRule(
    burst_window=timedelta(minutes=60), min_articles=3, min_sources=2, max_age=timedelta(hours=2)
)
VECTOR = np.array([1.0, 0.0], dtype=np.float32)


def grow(tracker: StoryTracker, count: int, sources: list[str], start: int = 0) -> tuple[Story, datetime]:
    """Add ``count`` articles, a minute apart, cycling through ``sources``; return the story and "now"."""
    story = None
    now = T0
    for index in range(start, start + count):
        now = T0 + timedelta(minutes=index)
        tokens = ("زلزله", "کرمان") if index % 2 else ("زلزله",)
        source = sources[index % len(sources)]
        story = tracker.place(f"a/{index}", now, source, "زلزله در کرمان", tokens, VECTOR).story
    assert story is not None
    return story, now


def tracker() -> StoryTracker:
    return StoryTracker(dimension=2, threshold=0.5, window=timedelta(hours=24))


def test_an_emerging_story_alerts_once() -> None:
    stories = tracker()
    policy = AlertPolicy(RULE)
    story, now = grow(stories, 2, ["s1", "s2"])
    assert policy.consider(story, now) is None  # two articles: not yet
    story, now = grow(stories, 1, ["s1", "s2"], start=2)
    alert = policy.consider(story, now)
    assert alert is not None
    story, now = grow(stories, 5, ["s1", "s2", "s3"], start=3)
    assert policy.consider(story, now) is None  # still emerging, already alerted


def test_alert_contents() -> None:
    stories = tracker()
    story, now = grow(stories, 3, ["s2", "s1"])
    alert = AlertPolicy(RULE).consider(story, now)
    assert alert is not None
    assert alert.type == "emerging"
    assert alert.story_id == story.story_id
    assert alert.at == now
    assert alert.headline == "زلزله در کرمان"
    assert alert.keywords == ["زلزله", "کرمان"]
    assert alert.article_ids == ["a/0", "a/1", "a/2"]
    assert alert.sources == ["s1", "s2"]  # sorted
    assert alert.article_count == 3
    assert alert.first_seen == T0
    assert alert.score == RULE.score(story, now)


def test_alert_article_ids_are_capped() -> None:
    rule = replace(RULE, min_articles=MAX_ALERT_IDS + 10)
    story, now = grow(tracker(), MAX_ALERT_IDS + 10, ["s1", "s2"])
    alert = AlertPolicy(rule).consider(story, now)
    assert alert is not None
    assert alert.article_ids == [f"a/{index}" for index in range(MAX_ALERT_IDS)]
    assert alert.article_count == MAX_ALERT_IDS + 10


def test_alert_id_is_stable_across_runs() -> None:
    first = AlertPolicy(RULE).consider(*grow(tracker(), 3, ["s1", "s2"]))
    second = AlertPolicy(RULE).consider(*grow(tracker(), 4, ["s1", "s2", "s3"]))
    assert first is not None and second is not None
    assert first.story_id == second.story_id
    assert first.alert_id == second.alert_id == alert_id_for(first.story_id, "emerging", RULE)
    assert re.fullmatch(r"a-[0-9a-f]{24}", first.alert_id)


def test_alert_id_differs_with_the_story_and_the_thresholds() -> None:
    base = alert_id_for("s-1", "emerging", RULE)
    assert alert_id_for("s-2", "emerging", RULE) != base
    assert alert_id_for("s-1", "other", RULE) != base
    changed = [
        replace(RULE, min_articles=4),
        replace(RULE, min_sources=3),
        replace(RULE, burst_window=timedelta(minutes=90)),
    ]
    ids = {alert_id_for("s-1", "emerging", rule) for rule in changed}
    assert base not in ids
    assert len(ids) == len(changed)


def test_a_forgotten_story_may_alert_again_with_the_same_id() -> None:
    policy = AlertPolicy(RULE)
    story, now = grow(tracker(), 3, ["s1", "s2"])
    first = policy.consider(story, now)
    assert first is not None
    policy.forget(story.story_id)
    again = policy.consider(story, now)
    assert again is not None
    assert again.alert_id == first.alert_id
    policy.forget("s-unknown")  # forgetting a story that never alerted is harmless


def test_stories_alert_independently() -> None:
    policy = AlertPolicy(RULE)
    one, now = grow(tracker(), 3, ["s1", "s2"])
    other_tracker = StoryTracker(dimension=2, threshold=0.5, window=timedelta(hours=24))
    other = other_tracker.place("b/0", T0, "s1", "h", (), VECTOR).story
    for index in range(1, 3):
        other_tracker.place(f"b/{index}", T0 + timedelta(minutes=index), f"s{index}", "h", (), VECTOR)
    first = policy.consider(one, now)
    second = policy.consider(other, now)
    assert first is not None and second is not None
    assert first.alert_id != second.alert_id
