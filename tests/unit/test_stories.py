"""Online story clustering: join, open, stable ids, expiry, the hot tier and the cold index, keywords."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.core.story import KEYWORD_COUNT, story_id_for
from streams.core.story_linking import CANDIDATES
from streams.core.story_tracker import Placement, StoryTracker, _best_rows

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
    # Free rows hold zero vectors; they must not beat a real story whose cosine is below zero.
    tracker = StoryTracker(DIM, threshold=-0.5, window=WINDOW, hot_stories=4)
    first = place(tracker, "a", axis(0)).story
    placement = place(tracker, "b", unit(-0.3, np.sqrt(0.91)))
    assert placement.story is first
    assert placement.similarity == pytest.approx((-0.3 + 0.5) / 1.5, abs=1e-6)


def test_same_input_gives_the_same_stories() -> None:
    rng = np.random.default_rng(7)
    vectors = [unit(*rng.normal(size=DIM)) for _ in range(60)]

    def run() -> list[tuple[str, bool]]:
        tracker = StoryTracker(DIM, threshold=0.3, window=WINDOW, hot_stories=2)
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


def test_expiry_frees_hot_rows_for_new_stories() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=1), hot_stories=2)
    first = place(tracker, "a", axis(0)).story
    first_row = tracker.hot_row(first)
    second = place(tracker, "b", axis(1), minutes=90).story
    assert tracker.expire(T0 + timedelta(minutes=90)) == [first]
    assert tracker.hot_row(first) == -1
    third = place(tracker, "c", axis(2), minutes=91).story
    assert tracker.hot_row(third) == first_row
    assert {tracker.hot_row(second), tracker.hot_row(third)} == {0, 1}
    # The freed row carries nothing of the closed story.
    assert place(tracker, "d", axis(0), minutes=92).new_story


def lexical_tracker(hot_stories: int, threshold: float = 0.9) -> StoryTracker:
    return StoryTracker(
        DIM,
        threshold=threshold,
        window=WINDOW,
        hot_stories=hot_stories,
        lexical_dimension=DIM,
        lexical_weight=0.5,
    )


def test_stories_beyond_the_hot_tier_are_found_through_their_words() -> None:
    tracker = lexical_tracker(hot_stories=2)
    stories = [
        tracker.place(f"open/{i}", T0 + timedelta(minutes=i), "s1", "h", (), axis(i), axis(i)).story
        for i in range(DIM)
    ]
    assert tracker.active_count == DIM
    assert tracker.hot_count == 2
    # The least recently updated stories went cold, the newest two are hot.
    assert [tracker.hot_row(story) >= 0 for story in stories] == [False] * (DIM - 2) + [True, True]
    for i, story in enumerate(stories):
        at = T0 + timedelta(minutes=DIM + i)
        placement = tracker.place(f"join/{i}", at, "s2", "h", (), axis(i), axis(i))
        assert placement.story is story
        assert placement.similarity == pytest.approx(1.0)
        assert tracker.hot_row(story) >= 0  # a cold story that wins comes back into the hot tier
    assert tracker.active_count == DIM
    assert tracker.hot_count == 2


def test_a_cold_story_sharing_no_words_is_not_searched() -> None:
    # The documented price of the index: a story outside the hot tier is reached through shared words only.
    tracker = lexical_tracker(hot_stories=1, threshold=0.5)
    cold = tracker.place("a", T0, "s1", "h", (), axis(0), axis(0)).story
    tracker.place("b", T0, "s1", "h", (), axis(1), axis(1))
    assert tracker.hot_row(cold) == -1
    assert tracker.place("c", T0, "s1", "h", (), axis(0), axis(2)).new_story
    roomy = lexical_tracker(hot_stories=8, threshold=0.5)
    kept = roomy.place("a", T0, "s1", "h", (), axis(0), axis(0)).story
    roomy.place("b", T0, "s1", "h", (), axis(1), axis(1))
    assert roomy.place("c", T0, "s1", "h", (), axis(0), axis(2)).story is kept


@pytest.mark.parametrize("center", [False, True])
def test_the_hot_tier_scores_every_story_as_a_full_scan_would(center: bool) -> None:
    # Reference: the documented joining score computed from each story's sums, best story by brute force.
    rng = np.random.default_rng(11)
    dimension, lexical_dimension, threshold = 6, 12, 0.2
    tracker = StoryTracker(
        dimension,
        threshold=threshold,
        window=WINDOW,
        hot_stories=64,
        lexical_dimension=lexical_dimension,
        lexical_weight=0.5,
        lexical_threshold=0.2,
        center=center,
    )
    members: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    seen: list[np.ndarray] = []
    for index in range(120):
        vector = unit(*rng.normal(size=dimension), dimension=dimension)
        words = np.where(rng.random(lexical_dimension) < 0.25, rng.random(lexical_dimension), 0.0)
        lexical = (words / (np.linalg.norm(words) or 1.0)).astype(np.float32)
        best_id, best_score = None, -np.inf
        for story_id, story_members in members.items():
            dense_sum = np.sum([m for m, _ in story_members], axis=0)
            if center:
                mean = np.mean(seen, axis=0)
                story_mean = dense_sum / len(story_members)
                a, b = story_mean - mean, vector - mean
                # The documented centered similarity: m . (q - mean) / (|m - mean| |q - mean|); a story
                # whose mean is the stream's mean has no direction: 0 by convention.
                length = float(np.linalg.norm(a))
                dense = float(story_mean @ b / (length * np.linalg.norm(b))) if length > 1e-5 else 0.0
            else:
                dense = float(dense_sum @ vector / np.linalg.norm(dense_sum))
            lexical_sum = np.sum([w for _, w in story_members], axis=0)
            norm = float(np.linalg.norm(lexical_sum))
            lexical_cosine = float(lexical_sum @ lexical / norm) if norm else 0.0
            score = 0.5 * (dense - threshold) / (1 - threshold) + 0.5 * (lexical_cosine - 0.2) / 0.8
            if score > best_score:
                best_id, best_score = story_id, score
        placement = tracker.place(f"n/{index}", T0, "s1", "h", (), vector, lexical)
        if best_id is not None and best_score >= 0:
            assert placement.story.story_id == best_id
            assert placement.similarity == pytest.approx(best_score, abs=1e-4)
        else:
            assert placement.new_story
        members.setdefault(placement.story.story_id, []).append((vector, lexical))
        seen.append(vector)
    assert 1 < len(members) < 120


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


def test_keywords_kept_across_placements_equal_a_full_ranking() -> None:
    # The ranking is updated per article (the old top and the article's tokens), never re-sorted in full.
    rng = np.random.default_rng(5)
    vocabulary = [f"w{index:02d}" for index in range(40)]
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    story = place(tracker, "a0", axis(0), tokens=("w00",)).story
    for index in range(1, 60):
        tokens = tuple(rng.choice(vocabulary[: 5 + index % 35], size=int(rng.integers(0, 12))).tolist())
        place(tracker, f"a{index}", axis(0), minutes=index, tokens=tokens)
        full = sorted(story.token_counts.items(), key=lambda item: (-item[1], item[0]))
        assert story.keywords() == [token for token, _ in full[:KEYWORD_COUNT]]
        assert story.keywords(3) == [token for token, _ in full[:3]]


def test_keywords_follow_counts_changed_outside_add_tokens() -> None:
    tracker = StoryTracker(DIM, threshold=0.5, window=WINDOW)
    story = place(tracker, "a", axis(0), tokens=("x", "y")).story
    assert story.keywords() == ["x", "y"]
    story.article_ids.append("merged")  # as a merge would: more articles, counts changed directly
    story.token_counts.update({"z": 5})
    assert story.keywords() == ["z", "x", "y"]


@pytest.mark.parametrize("seed", range(6))
def test_a_small_hot_tier_describes_the_candidates_a_roomy_one_does(seed: int) -> None:
    # With every cold story sharing words with the article (fewer than the cold index looks up), the
    # candidates found through the index are the ones scoring every story exactly finds, best first.
    rng = np.random.default_rng(seed)
    dimension, lexical_dimension = 6, 12

    def tracker(hot_stories: int) -> StoryTracker:
        return StoryTracker(
            dimension,
            threshold=0.9,  # most articles open a story: the cold stories outnumber the candidates
            window=WINDOW,
            hot_stories=hot_stories,
            lexical_dimension=lexical_dimension,
            lexical_weight=0.5,
            describe=True,
        )

    small, roomy = tracker(3), tracker(64)
    for index in range(16):
        vector = unit(*rng.normal(size=dimension), dimension=dimension)
        words = np.where(rng.random(lexical_dimension) < 0.5, rng.random(lexical_dimension), 0.0)
        words[0] += 0.3  # a word every text has: every cold story is reachable through the index
        lexical = (words / np.linalg.norm(words)).astype(np.float32)
        at = T0 + timedelta(minutes=index)
        got = small.place(f"a/{index}", at, "s1", "h", (), vector, lexical)
        want = roomy.place(f"a/{index}", at, "s1", "h", (), vector, lexical)
        assert [story_id for story_id, _ in got.candidates] == [story_id for story_id, _ in want.candidates]
        for (_, got_row), (_, want_row) in zip(got.candidates, want.candidates, strict=True):
            assert got_row == pytest.approx(want_row, abs=1e-5)
        assert got.story.story_id == want.story.story_id
    assert small.hot_count == 3 and small.active_count > 3 + CANDIDATES


def test_best_rows_is_the_head_of_a_stable_descending_sort() -> None:
    rng = np.random.default_rng(3)
    for size in (1, 4, 5, 6, 40, 1024):
        for _ in range(20):
            # Few distinct values: ties at the cut and above it; -inf marks rows that never win.
            scores = rng.integers(-3, 3, size=size).astype(np.float32)
            scores[rng.random(size) < 0.1] = -np.inf
            for limit in (1, 5, size):
                want = np.argsort(-scores, kind="stable")[:limit].tolist()
                assert _best_rows(scores, limit) == want
