"""Story merges: two active stories that turn out to tell one event become one (the older id stays), the
change reaches the stories topic, alerts follow the survivor, the board and the evaluation read it."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from streams.board.view import BoardView, StoryFilter
from streams.codecs import decode_array
from streams.core.calibration import Calibration
from streams.core.detector import Detector, TrackResult
from streams.core.emergence import EmergenceRule
from streams.core.snapshots import final_story
from streams.core.story import MAX_MEMBERS, Story, story_id_for
from streams.core.story_linking import FEATURES, StoryLinker
from streams.core.story_tracker import Placement, StoryTracker
from streams.records import EmbeddedArticle
from streams.settings import AlertSettings, Settings, TrackerSettings
from streams.tools.evaluation.runner import track_all

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DIM = 4
# Joins on the dense centroid cosine alone: probability sigmoid(10 cos - 5), 0.5 at cos 0.5.
CENTROID_LINKER = StoryLinker(
    weights=tuple(10.0 if name == "dense_centroid" else 0.0 for name in FEATURES),
    bias=-5.0,
    mean=(0.0,) * len(FEATURES),
    scale=(1.0,) * len(FEATURES),
    threshold=0.5,
    trained_with={},
)


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def tracker(merge_probability: float | None, neighbors: int = 0) -> StoryTracker:
    return StoryTracker(
        DIM,
        threshold=0.5,
        window=timedelta(hours=24),
        neighbors=neighbors,
        linker=CENTROID_LINKER,
        merge_probability=merge_probability,
    )


def place(tracker: StoryTracker, article_id: str, minutes: int, vector: np.ndarray) -> Placement:
    return tracker.place(article_id, T0 + timedelta(minutes=minutes), "s", article_id, ("t",), vector)


def two_stories_and_a_bridge(tracker: StoryTracker) -> Placement:
    """a0 opens the older story, a1 a younger one; a2 lies between them, nearer the younger."""
    place(tracker, "a0", 0, unit(1))
    place(tracker, "a1", 10, unit(0, 1))
    return place(tracker, "a2", 20, unit(0.6, 0.8))


def test_an_article_both_stories_claim_merges_them_into_the_older() -> None:
    older, younger = story_id_for("a0"), story_id_for("a1")
    merging = tracker(merge_probability=0.7)
    placement = two_stories_and_a_bridge(merging)
    # The linker chose the younger story (cos 0.8 against 0.6), and the older one reached 0.73 >= 0.7.
    assert placement.link is not None and placement.link.candidate == younger
    assert placement.story.story_id == older and not placement.new_story
    assert [story.story_id for story in placement.absorbed] == [younger]
    assert dict(placement.link.merged)[older] == pytest.approx(1 / (1 + np.exp(-1.0)), abs=1e-6)
    assert merging.active_count == 1 and merging.hot_count == 1
    assert placement.story.article_ids == ["a0", "a1", "a2"]
    assert merging.get(younger) is None
    # Without merges the same articles leave two stories.
    plain = tracker(merge_probability=None)
    unmerged = two_stories_and_a_bridge(plain)
    assert unmerged.story.story_id == younger and unmerged.absorbed == () and plain.active_count == 2
    # A threshold above the second probability merges nothing.
    assert two_stories_and_a_bridge(tracker(merge_probability=0.8)).absorbed == ()


def test_the_merged_story_goes_on_as_one() -> None:
    merging = tracker(merge_probability=0.7, neighbors=8)
    survivor = two_stories_and_a_bridge(merging).story
    # Every recent member (the absorbed story's too) now links to the survivor's row.
    rows = decode_array(merging.to_state()["recent"]["row"])
    assert set(rows.tolist()) == {merging.hot_row(survivor)}
    later = place(merging, "a3", 30, unit(0, 1))
    assert later.story is survivor and not later.new_story
    assert merging.active_count == 1
    # The merged story closes as one when the window passes.
    closed = merging.expire(T0 + timedelta(hours=25))
    assert [story.story_id for story in closed] == [survivor.story_id]
    assert merging.active_count == 0 and merging.hot_count == 0


def test_absorbing_keeps_ids_and_timeline_in_event_time_order() -> None:
    def story(story_id: str, minutes: list[int], source: str) -> Story:
        result = Story(
            story_id=story_id,
            first_seen=T0 + timedelta(minutes=minutes[0]),
            last_seen=T0 + timedelta(minutes=minutes[-1]),
            headline=story_id,
            vector_sum=np.full(DIM, float(len(minutes)), dtype=np.float32),
        )
        for minute in minutes:
            result.article_ids.append(f"{story_id}{minute}")
            result.timeline.append((T0 + timedelta(minutes=minute), source))
            result.sources[source] += 1
            result.token_counts[f"w{minute % 2}"] += 1
            result.members.append((f"{story_id}{minute}", np.ones(DIM, dtype=np.float32)))
        return result

    survivor = story("x", [0, 30, 60], "A")
    survivor.members = survivor.members * 7  # 21 members: the cap keeps the survivor's first
    other = story("y", [10, 40, 90], "B")
    survivor.absorb(other)
    assert survivor.article_ids == ["x0", "y10", "x30", "y40", "x60", "y90"]
    assert [moment for moment, _ in survivor.timeline] == sorted(moment for moment, _ in survivor.timeline)
    assert survivor.sources == Counter({"A": 3, "B": 3})
    assert survivor.token_counts == Counter({"w0": 6})
    assert (survivor.first_seen, survivor.last_seen) == (T0, T0 + timedelta(minutes=90))
    assert survivor.vector_sum.tolist() == [6.0] * DIM
    assert len(survivor.members) == MAX_MEMBERS and survivor.headline == "x"


def test_final_story_follows_merges_through_chains() -> None:
    merged_into = {"c": "b", "b": "a"}
    assert [final_story(story, merged_into) for story in "abcd"] == ["a", "a", "a", "d"]


# --- the Detector: records, alerts, duplicates, checkpoints ----------------------------------------------


def embedded(article_id: str, minutes: int, vector: np.ndarray, source: str) -> EmbeddedArticle:
    return EmbeddedArticle(
        id=article_id,
        published_at=T0 + timedelta(minutes=minutes),
        source=source,
        headline=f"headline {article_id}",
        tokens=[f"word{article_id}"],
        embedding=EmbeddedArticle.encode_vector(vector),
        embedder="test",
    )


def detector(merge_probability: float = 0.7) -> Detector:
    settings = Settings(tracker=TrackerSettings(merge_probability=merge_probability, lexical_weight=0.0))
    return Detector(settings, calibration=Calibration(0.5, centered=False), linker=CENTROID_LINKER)


def run(detector: Detector, articles: list[EmbeddedArticle]) -> list[TrackResult]:
    return [detector.track(article) for article in articles]


BRIDGED = [
    embedded("a0", 0, unit(1), "A"),
    embedded("a1", 10, unit(0, 1), "B"),
    embedded("a2", 20, unit(0.6, 0.8), "C"),
]


def test_the_stories_topic_says_which_story_merged_into_which() -> None:
    older, younger = story_id_for("a0"), story_id_for("a1")
    results = run(detector(), BRIDGED)
    bridge = results[2]
    assert bridge.assignment is not None and bridge.assignment.story_id == older
    assert bridge.assignment.link is not None and set(bridge.assignment.link.merged or {}) == {older}
    closed, active = bridge.snapshots
    assert (closed.story_id, closed.status, closed.merged_into) == (younger, "closed", older)
    assert (active.story_id, active.status, active.merged_into) == (older, "active", None)
    assert active.article_count == 3 and active.sources == {"A": 1, "B": 1, "C": 1}
    # The merged story is the survivor's now: three articles from three sources, one alert on it.
    assert [alert.story_id for alert in bridge.alerts] == [older]
    assert bridge.alerts[0].article_ids == ["a0", "a1", "a2"]
    # No merge, no merged_into anywhere.
    plain = run(detector(0), BRIDGED)  # 0: never merge
    assert all(snapshot.merged_into is None for result in plain for snapshot in result.snapshots)


def test_an_alerted_story_that_merges_does_not_alert_again() -> None:
    younger = story_id_for("b0")
    articles = [
        embedded("a0", 0, unit(1), "A"),
        embedded("b0", 10, unit(0, 1), "B"),
        embedded("b1", 11, unit(0, 1), "C"),
        embedded("b2", 12, unit(0, 1), "D"),  # the younger story alerts here
        embedded("x", 20, unit(0.6, 0.8), "E"),  # and merges into the older one here
        embedded("y", 21, unit(1, 1), "F"),
    ]
    results = run(detector(), articles)
    assert [alert.story_id for result in results for alert in result.alerts] == [younger]
    assert results[4].snapshots[0].merged_into == story_id_for("a0")


def test_a_resent_article_of_a_merged_story_names_the_survivor() -> None:
    tracking = detector()
    run(tracking, BRIDGED)
    again = tracking.track(embedded("a1", 30, unit(0, 1), "B"))
    assert again.rejection is not None and story_id_for("a0") in again.rejection.message


def test_a_checkpoint_after_a_merge_restores_exactly() -> None:
    articles = [*BRIDGED, embedded("a3", 30, unit(0, 1), "D"), embedded("a4", 40, unit(0.1, 1), "E")]

    def lines(results: list[TrackResult]) -> list[str]:
        return [
            record.model_dump_json()
            for result in results
            for record in [result.assignment, *result.snapshots, *result.alerts]
            if record is not None
        ]

    expected = lines(run(detector(), articles))
    first = detector()
    got = lines(run(first, articles[:3]))
    restored = detector()
    restored.load_state(DIM, json.loads(json.dumps(first.to_state())))
    got += lines(run(restored, articles[3:]))
    assert got == expected


def test_the_evaluation_scores_each_articles_final_story() -> None:
    articles = [embedded("z", -5, unit(0, 0, 1), "Z"), *BRIDGED]
    final = track_all(detector(), articles).assignment
    older = story_id_for("a0")
    assert final == {"z": story_id_for("z"), "a0": older, "a1": older, "a2": older}


def test_the_board_shows_a_merged_story_as_its_survivor() -> None:
    view = BoardView(EmergenceRule.from_settings(AlertSettings()))
    results = run(detector(), BRIDGED)
    for article in BRIDGED:
        view.add_article(
            json.dumps({"id": article.id, "source": article.source, "text": article.id}).encode()
        )
    # The topics are read side by side: here every assignment and alert before any story snapshot.
    for result in results:
        assert result.assignment is not None
        view.add_assignment(result.assignment.to_json_bytes())
        for alert in result.alerts:
            view.add_alert(alert.to_json_bytes())
    for result in results:
        for snapshot in result.snapshots:
            view.add_story(snapshot.to_json_bytes())
    older, younger = story_id_for("a0"), story_id_for("a1")
    listed = view.stories(StoryFilter(include_closed=True))
    assert [card.story_id for card in listed.stories] == [older]
    assert listed.stories[0].merged_from == [younger] and listed.stories[0].alerted
    detail = view.story(younger)
    assert detail is not None and detail.story_id == older
    assert [post.id for post in detail.posts] == ["a0", "a1", "a2"]
