"""Online story clustering: join, open, stable ids, expiry and slot reuse, keywords."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.stories import KEYWORD_COUNT, Placement, StoryTracker, story_id_for

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
WINDOW = timedelta(hours=24)
DIM = 8


def unit(*components: float, dimension: int = DIM) -> np.ndarray:
    vector = np.zeros(dimension, dtype=np.float32)
    vector[: len(components)] = components
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def axis(index: int, dimension: int = DIM) -> np.ndarray:
    vector = np.zeros(dimension, dtype=np.float32)
    vector[index] = 1.0
    return vector


def place(
    tracker: StoryTracker,
    article_id: str,
    vector: np.ndarray,
    minutes: float = 0,
    source: str = "s1",
    tokens: tuple[str, ...] = (),
) -> Placement:
    published_at = T0 + timedelta(minutes=minutes)
    return tracker.place(article_id, published_at, source, f"headline {article_id}", tokens, vector)


def test_story_ids_are_derived_from_the_first_article() -> None:
    story_id = story_id_for("khabar_fori/73109")
    assert re.fullmatch(r"s-[0-9a-f]{16}", story_id)
    assert story_id == story_id_for("khabar_fori/73109")
    assert story_id != story_id_for("khabar_fori/73110")


def test_the_first_article_opens_a_story() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    placement = place(tracker, "a", axis(0), source="khabar_fori", tokens=("زلزله",))
    assert placement.new_story
    assert placement.similarity == 0.0
    story = placement.story
    assert story.story_id == story_id_for("a")
    assert story.article_ids == ["a"]
    assert story.first_seen == story.last_seen == T0
    assert story.headline == "headline a"
    assert dict(story.sources) == {"khabar_fori": 1}
    assert tracker.active_count == 1
    assert tracker.get(story.story_id) is story


def test_an_article_above_the_threshold_joins() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    first = place(tracker, "a", axis(0)).story
    placement = place(tracker, "b", unit(0.8, 0.6), minutes=5, source="s2")
    assert not placement.new_story
    assert placement.story is first
    # The joining score: the cosine's evidence above the threshold, (0.8 - 0.5) / (1 - 0.5).
    assert placement.similarity == pytest.approx(0.6, abs=1e-6)
    # The id and the headline stay those of the first article.
    assert first.story_id == story_id_for("a")
    assert first.headline == "headline a"
    assert first.article_ids == ["a", "b"]
    assert first.last_seen == T0 + timedelta(minutes=5)
    assert dict(first.sources) == {"s1": 1, "s2": 1}
    np.testing.assert_allclose(first.centroid(), unit(1.8, 0.6), atol=1e-6)
    assert tracker.active_count == 1


def test_an_article_exactly_at_the_threshold_joins() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    place(tracker, "a", axis(0))
    assert not place(tracker, "b", unit(0.5, np.sqrt(0.75))).new_story


def test_an_article_below_the_threshold_opens_a_new_story() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    first = place(tracker, "a", axis(0)).story
    placement = place(tracker, "b", unit(0.4, np.sqrt(0.84)))
    assert placement.new_story
    assert placement.story is not first
    assert placement.story.story_id == story_id_for("b")
    assert tracker.active_count == 2


def test_the_nearest_story_wins() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    place(tracker, "a", axis(0))
    second = place(tracker, "b", axis(1)).story
    placement = place(tracker, "c", unit(0.6, 0.8))
    assert placement.story is second
    assert placement.similarity == pytest.approx((0.8 - 0.5) / 0.5, abs=1e-6)


def test_a_negative_cosine_can_join_when_the_threshold_allows_it() -> None:
    # Free slots hold zero vectors; they must not beat a real story whose cosine is below zero.
    tracker = StoryTracker(DIM, threshold=-0.5, window=WINDOW, initial_capacity=4)
    first = place(tracker, "a", axis(0)).story
    placement = place(tracker, "b", unit(-0.3, np.sqrt(0.91)))
    assert placement.story is first
    assert placement.similarity == pytest.approx((-0.3 + 0.5) / 1.5, abs=1e-6)


def test_same_input_gives_the_same_stories() -> None:
    rng = np.random.default_rng(7)
    vectors = [unit(*rng.normal(size=DIM)) for _ in range(60)]

    def run() -> list[tuple[str, bool]]:
        tracker = StoryTracker(DIM, threshold=0.3, window=WINDOW, initial_capacity=2)
        return [
            (placement.story.story_id, placement.new_story)
            for index, vector in enumerate(vectors)
            for placement in [place(tracker, f"n/{index}", vector, minutes=index)]
        ]

    first = run()
    assert first == run()
    assert 1 < len({story_id for story_id, _ in first}) < len(vectors)


def test_expire_closes_stories_idle_longer_than_the_window() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=1))
    old = place(tracker, "a", axis(0), minutes=0).story
    edge = place(tracker, "b", axis(1), minutes=30).story
    fresh = place(tracker, "c", axis(2), minutes=50).story
    place(tracker, "a2", axis(0), minutes=20)  # keeps "a" alive until 20 min
    closed = tracker.expire(T0 + timedelta(minutes=90))
    assert closed == [old]  # last seen 20 min, 70 min before "now"
    # Exactly one window of silence: still active.
    assert tracker.get(edge.story_id) is edge
    assert tracker.get(fresh.story_id) is fresh
    assert tracker.get(old.story_id) is None
    assert tracker.active_count == 2
    assert tracker.expire(T0 + timedelta(minutes=90)) == []


def test_an_expired_story_no_longer_attracts_articles() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=1))
    old = place(tracker, "a", axis(0)).story
    tracker.expire(T0 + timedelta(hours=2))
    placement = place(tracker, "b", axis(0), minutes=120)
    assert placement.new_story
    assert placement.story is not old
    assert old.article_ids == ["a"]


def test_expiry_frees_slots_for_new_stories() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=1), initial_capacity=2)
    first = place(tracker, "a", axis(0)).story
    second = place(tracker, "b", axis(1), minutes=90).story
    assert tracker.expire(T0 + timedelta(minutes=90)) == [first]
    third = place(tracker, "c", axis(2), minutes=91).story
    assert third.slot == first.slot
    assert {second.slot, third.slot} == {0, 1}
    # The freed slot carries nothing of the closed story.
    assert place(tracker, "d", axis(0), minutes=92).new_story


def test_capacity_grows_beyond_the_initial_capacity() -> None:
    tracker = StoryTracker(DIM, threshold=0.9, window=WINDOW, initial_capacity=1)
    stories = [place(tracker, f"open/{index}", axis(index), minutes=index).story for index in range(DIM)]
    assert tracker.active_count == DIM
    assert len({story.slot for story in stories}) == DIM
    # Every story still gets its own articles after the centroid matrix was copied into a bigger one.
    for index, story in enumerate(stories):
        placement = place(tracker, f"join/{index}", axis(index), minutes=DIM + index)
        assert placement.story is story
        assert placement.similarity == pytest.approx(1.0)
    assert tracker.active_count == DIM


def test_keywords_are_the_most_frequent_tokens_ties_by_token() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    story = place(tracker, "a", axis(0), tokens=("کرمان", "زلزله", "راور", "ب", "الف")).story
    place(tracker, "b", axis(0), tokens=("زلزله", "کرمان", "زلزله", "ج"))
    assert story.keywords() == ["زلزله", "کرمان", "الف", "ب", "ج", "راور"]
    assert story.keywords(2) == ["زلزله", "کرمان"]


def test_keywords_do_not_depend_on_insertion_order() -> None:
    tokens = [f"t{index:02d}" for index in range(20)]
    forward = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    backward = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    one = place(forward, "a", axis(0), tokens=tuple(tokens)).story
    two = place(backward, "a", axis(0), tokens=tuple(reversed(tokens))).story
    assert one.keywords() == two.keywords() == tokens[:KEYWORD_COUNT]


def test_timeline_records_every_article() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    story = place(tracker, "a", axis(0), minutes=0, source="s1").story
    place(tracker, "b", axis(0), minutes=3, source="s2")
    place(tracker, "c", axis(0), minutes=1, source="s1")  # a late article does not move last_seen back
    assert list(story.timeline) == [
        (T0, "s1"),
        (T0 + timedelta(minutes=3), "s2"),
        (T0 + timedelta(minutes=1), "s1"),
    ]
    assert story.last_seen == T0 + timedelta(minutes=3)
    assert story.article_count == 3


def test_lexical_evidence_can_join_what_the_dense_cosine_alone_would_split() -> None:
    lexical_tracker = StoryTracker(
        DIM, threshold=0.9, window=WINDOW, lexical_dimension=DIM, lexical_weight=0.5, lexical_threshold=0.2
    )
    dense_only = StoryTracker(DIM, threshold=0.9, window=WINDOW)
    same_words = axis(3)
    for tracker in (lexical_tracker, dense_only):
        tracker.place("a", T0, "s1", "h", (), axis(0), same_words)
    # Dense cosine 0.85 is below 0.9 (evidence -0.5); identical words give lexical evidence +1.0.
    joined = lexical_tracker.place("b", T0, "s2", "h", (), unit(0.85, np.sqrt(1 - 0.85**2)), same_words)
    split = dense_only.place("b", T0, "s2", "h", (), unit(0.85, np.sqrt(1 - 0.85**2)), same_words)
    assert not joined.new_story and split.new_story
    # Different words pull the score below zero again.
    fresh = StoryTracker(DIM, threshold=0.9, window=WINDOW, lexical_dimension=DIM, lexical_weight=0.5)
    fresh.place("a", T0, "s1", "h", (), axis(0), same_words)
    assert fresh.place("c", T0, "s3", "h", (), unit(0.85, np.sqrt(1 - 0.85**2)), axis(5)).new_story


def test_a_story_is_named_by_its_most_central_member() -> None:
    tracker = StoryTracker(DIM, threshold=0.0, window=WINDOW)
    tracker.place("a", T0, "s1", "off to the side", (), unit(1.0, 0.0, 1.0))
    tracker.place("b", T0, "s1", "the middle", (), unit(1.0, 0.0, 0.0))
    story = tracker.place("c", T0, "s1", "other side", (), unit(1.0, 0.0, -1.0)).story
    assert story.headline == "off to the side"  # the opener's
    assert story.central_headline() == "the middle"
