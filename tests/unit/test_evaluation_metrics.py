"""Scoring against gold labels: BCubed, pairwise, silver pair recall, emerging stories and alert scores.

Every expected number is worked out by hand in the comments next to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from streams.tools.evaluation.metrics import (
    AlertView,
    GoldLabel,
    PrecisionRecall,
    _referred_story,
    bcubed,
    emergence,
    emerging_gold_stories,
    pair_ranking_accuracy,
    pairwise,
    silver_pair_recall,
)

# Five items: gold story A = {a1, a2, a3}, gold story B = {b1, b2}.
ITEMS = ["a1", "a2", "a3", "b1", "b2"]
GOLD = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}
PERFECT = {"a1": "x", "a2": "x", "a3": "x", "b1": "y", "b2": "y"}
ONE_CLUSTER = dict.fromkeys(ITEMS, "x")
# {a1, a2} | {a3, b1} | b2 left unassigned (a singleton).
MIXED = {"a1": "x", "a2": "x", "a3": "y", "b1": "y"}

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def approx(value: float) -> object:
    return pytest.approx(value, abs=1e-12)


def scores(result: PrecisionRecall) -> tuple[float, float]:
    return result.precision, result.recall


# --- BCubed ---------------------------------------------------------------------------------------


def test_bcubed_perfect_clustering_is_one() -> None:
    assert scores(bcubed(ITEMS, GOLD, PERFECT)) == (approx(1.0), approx(1.0))
    assert bcubed(ITEMS, GOLD, PERFECT).f1 == approx(1.0)


def test_bcubed_perfect_whatever_the_predicted_label_names() -> None:
    # Predicted labels are only compared with each other: naming them like the gold ones changes nothing.
    swapped = {"a1": "B", "a2": "B", "a3": "B", "b1": "A", "b2": "A"}
    assert scores(bcubed(ITEMS, GOLD, swapped)) == (approx(1.0), approx(1.0))


def test_bcubed_all_singletons() -> None:
    # Each item alone: precision 1/1 for everyone.
    # Recall = mean(1/|gold cluster|) = (3 * 1/3 + 2 * 1/2) / 5 = 2/5.
    singletons = {item: f"s-{item}" for item in ITEMS}
    assert scores(bcubed(ITEMS, GOLD, singletons)) == (approx(1.0), approx(2 / 5))


def test_bcubed_unassigned_items_are_singletons() -> None:
    # Nothing assigned: the same as all singletons, not one shared "unassigned" cluster.
    assert scores(bcubed(ITEMS, GOLD, {})) == (approx(1.0), approx(2 / 5))


def test_bcubed_one_big_cluster() -> None:
    # Recall 1 for everyone. Precision: a* share 3 of 5, b* share 2 of 5:
    # (3 * 3/5 + 2 * 2/5) / 5 = (9/5 + 4/5) / 5 = 13/25.
    assert scores(bcubed(ITEMS, GOLD, ONE_CLUSTER)) == (approx(13 / 25), approx(1.0))


def test_bcubed_mixed_with_an_unassigned_item() -> None:
    # Predicted {a1, a2}, {a3, b1}, {b2}.
    # Precision: a1 2/2, a2 2/2, a3 1/2, b1 1/2, b2 1/1 -> 4 / 5.
    # Recall: a1 2/3, a2 2/3, a3 1/3, b1 1/2, b2 1/2 -> (5/3 + 1) / 5 = 8/15.
    result = bcubed(ITEMS, GOLD, MIXED)
    assert scores(result) == (approx(4 / 5), approx(8 / 15))
    # F1 = 2 * 4/5 * 8/15 / (4/5 + 8/15) = (64/75) / (20/15) = 16/25.
    assert result.f1 == approx(16 / 25)


def test_bcubed_unassigned_equals_an_explicit_singleton() -> None:
    assert bcubed(ITEMS, GOLD, MIXED) == bcubed(ITEMS, GOLD, {**MIXED, "b2": "solo"})


def test_bcubed_clusters_are_restricted_to_the_scored_items() -> None:
    # "z" shares x with a1 and a2 but is not scored, so it does not dilute their cluster.
    assignment = {"a1": "x", "a2": "x", "z": "x"}
    assert scores(bcubed(["a1", "a2"], {"a1": "A", "a2": "A"}, assignment)) == (approx(1.0), approx(1.0))


def test_bcubed_news_only_drops_the_noise() -> None:
    # The run lumps two noise posts (each its own gold story) into the news story.
    items = ["a1", "a2", "n1", "n2"]
    gold = {"a1": "A", "a2": "A", "n1": "N1", "n2": "N2"}
    assignment = dict.fromkeys(items, "x")
    # All items. Precision: a1 2/4, a2 2/4, n1 1/4, n2 1/4 -> (3/2) / 4 = 3/8. Recall 1.
    assert scores(bcubed(items, gold, assignment)) == (approx(3 / 8), approx(1.0))
    # News only (how the runner removes noise): the cluster restricted to {a1, a2} is perfect.
    assert scores(bcubed(["a1", "a2"], gold, assignment)) == (approx(1.0), approx(1.0))


def test_bcubed_of_nothing_is_zero() -> None:
    assert scores(bcubed([], {}, {})) == (0.0, 0.0)


# --- pairwise -------------------------------------------------------------------------------------


def test_pairwise_perfect_clustering_is_one() -> None:
    # Gold pairs: C(3,2) + C(2,2) = 4, all predicted, nothing else predicted.
    assert scores(pairwise(ITEMS, GOLD, PERFECT)) == (approx(1.0), approx(1.0))


def test_pairwise_no_predicted_pairs_has_precision_one_by_convention() -> None:
    # All singletons: 0 predicted pairs -> precision 1.0 (the code's convention); recall 0 / 4 = 0.
    assert scores(pairwise(ITEMS, GOLD, {})) == (1.0, 0.0)


def test_pairwise_no_gold_pairs_has_recall_one_by_convention() -> None:
    # Gold all singletons, the run joins the first two: 1 predicted pair, 0 correct; 0 gold pairs -> 1.0.
    items = ["p", "q", "r"]
    gold = {"p": "P", "q": "Q", "r": "R"}
    assert scores(pairwise(items, gold, {"p": "x", "q": "x"})) == (0.0, 1.0)


def test_pairwise_one_big_cluster() -> None:
    # Predicted pairs C(5,2) = 10, gold pairs 4, all 4 gold pairs predicted: precision 4/10, recall 1.
    assert scores(pairwise(ITEMS, GOLD, ONE_CLUSTER)) == (approx(4 / 10), approx(1.0))


def test_pairwise_mixed_with_an_unassigned_item() -> None:
    # Predicted {a1, a2}, {a3, b1}, {b2}: predicted pairs 1 + 1 = 2; gold pairs 3 + 1 = 4.
    # Correct pairs: only (a1, a2). Precision 1/2, recall 1/4.
    result = pairwise(ITEMS, GOLD, MIXED)
    assert scores(result) == (approx(1 / 2), approx(1 / 4))
    # F1 = 2 * 1/2 * 1/4 / (3/4) = 1/3.
    assert result.f1 == approx(1 / 3)


def test_pairwise_news_only_drops_the_noise() -> None:
    items = ["a1", "a2", "n1", "n2"]
    gold = {"a1": "A", "a2": "A", "n1": "N1", "n2": "N2"}
    assignment = dict.fromkeys(items, "x")
    # All items: predicted pairs C(4,2) = 6, gold pairs 1, correct 1 -> precision 1/6, recall 1.
    assert scores(pairwise(items, gold, assignment)) == (approx(1 / 6), approx(1.0))
    # News only: 1 predicted pair, 1 gold pair, correct.
    assert scores(pairwise(["a1", "a2"], gold, assignment)) == (approx(1.0), approx(1.0))


def test_pairwise_labels_containing_the_separator() -> None:
    # i1 is predicted "p|r" with gold "q"; i2 predicted "p" with gold "r|q"; i3 predicted "p" with gold "q".
    # Predicted pairs: (i2, i3). Gold pairs: (i1, i3). No pair agrees: precision 0 / 1, recall 0 / 1.
    items = ["i1", "i2", "i3"]
    gold = {"i1": "q", "i2": "r|q", "i3": "q"}
    assignment = {"i1": "p|r", "i2": "p", "i3": "p"}
    assert scores(pairwise(items, gold, assignment)) == (0.0, 0.0)


def test_pairwise_of_nothing() -> None:
    assert scores(pairwise([], {}, {})) == (1.0, 1.0)


# --- PrecisionRecall ------------------------------------------------------------------------------


def test_precision_recall_f1_and_dict() -> None:
    # F1 = 2 * 0.5 * 0.25 / 0.75 = 1/3.
    result = PrecisionRecall(0.5, 0.25)
    assert result.f1 == approx(1 / 3)
    assert result.as_dict() == {"precision": 0.5, "recall": 0.25, "f1": approx(1 / 3)}
    assert PrecisionRecall(0.0, 0.0).f1 == 0.0


# --- silver pairs ---------------------------------------------------------------------------------


def test_silver_recall_counts_only_pairs_with_both_posts_assigned() -> None:
    pairs = [("a", "b"), ("c", "d"), ("e", "f"), ("g", "h")]
    # (a, b) same story, (c, d) different; (e, f) has f unassigned, (g, h) neither: both left out.
    assignment = {"a": "x", "b": "x", "c": "x", "d": "y", "e": "x"}
    # 1 of the 2 scored pairs shares a story.
    assert silver_pair_recall(pairs, assignment) == (approx(1 / 2), 2)


def test_silver_recall_all_together() -> None:
    pairs = [("a", "b"), ("b", "c"), ("a", "c")]
    assert silver_pair_recall(pairs, dict.fromkeys("abc", "x")) == (1.0, 3)


def test_silver_recall_with_nothing_scored() -> None:
    assert silver_pair_recall([("a", "b")], {"a": "x"}) == (0.0, 0)
    assert silver_pair_recall([], {"a": "x"}) == (0.0, 0)


def test_silver_recall_accepts_an_iterator() -> None:
    pairs = iter([("a", "b"), ("a", "c")])
    # (a, b) together, (a, c) apart -> 1/2 of 2.
    assert silver_pair_recall(pairs, {"a": "x", "b": "x", "c": "y"}) == (approx(1 / 2), 2)


# --- emergence ------------------------------------------------------------------------------------


def label(story: str, source: str, minute: float, kind: str = "news") -> GoldLabel:
    return GoldLabel(story=story, kind=kind, source=source, published_at=T0 + timedelta(minutes=minute))


def alert(alert_id: str, minute: float, *article_ids: str) -> AlertView:
    return AlertView(alert_id=alert_id, at=T0 + timedelta(minutes=minute), article_ids=article_ids)


def story_posts(story: str, *posts: tuple[str, float], kind: str = "news") -> dict[str, GoldLabel]:
    """Posts ``{story}{index}`` of ``story``, each (source, minute)."""
    return {
        f"{story.lower()}{index}": label(story, source, minute, kind)
        for index, (source, minute) in enumerate(posts)
    }


# A: emerging (4 posts, sources s1 and s2), posts at minutes 0, 10, 20, 30.
# B: emerging (4 posts, 3 sources), posts at minutes 5, 15, 25, 35.
# C: news, 3 posts from one source: not emerging, but big enough for an alert on it to be precise.
# D: news, 2 posts: neither.
# N: noise, 4 posts from 2 sources: never emerging, never precise.
LABELS = {
    **story_posts("A", ("s1", 0), ("s2", 10), ("s1", 20), ("s2", 30)),
    **story_posts("B", ("s1", 5), ("s2", 15), ("s3", 25), ("s1", 35)),
    **story_posts("C", ("s1", 1), ("s1", 2), ("s1", 3)),
    **story_posts("D", ("s1", 1), ("s2", 2)),
    **story_posts("N", ("s1", 1), ("s2", 2), ("s1", 3), ("s2", 4), kind="noise"),
}


def test_emerging_gold_stories() -> None:
    assert emerging_gold_stories(LABELS) == {"A", "B"}


@pytest.mark.parametrize(
    ("posts", "expected"),
    [
        ([("s1", 0), ("s2", 1), ("s1", 2), ("s1", 3)], True),  # 4 posts, 2 sources: the minimum
        ([("s1", 0), ("s2", 1), ("s3", 2)], False),  # 3 posts
        ([("s1", 0), ("s1", 1), ("s1", 2), ("s1", 3), ("s1", 4)], False),  # one source
    ],
)
def test_emerging_thresholds(posts: list[tuple[str, float]], expected: bool) -> None:
    assert emerging_gold_stories(story_posts("S", *posts)) == ({"S"} if expected else set())


def test_noise_never_emerges() -> None:
    assert emerging_gold_stories(
        story_posts("N", ("s1", 0), ("s2", 1), ("s3", 2), ("s4", 3), kind="noise")
    ) == (set())


def test_emerging_thresholds_are_parameters() -> None:
    # C: 3 posts, 1 source.
    assert emerging_gold_stories(LABELS, min_posts=3, min_sources=1) == {"A", "B", "C"}
    assert emerging_gold_stories(LABELS, min_posts=4, min_sources=3) == {"B"}


def test_referred_story_needs_a_strict_majority() -> None:
    assert _referred_story(alert("x", 0, "a0", "a1", "b0"), LABELS) == "A"  # 2 of 3
    assert _referred_story(alert("x", 0, "a0", "a1", "b0", "b1"), LABELS) is None  # 2 of 4: a tie
    assert _referred_story(alert("x", 0, "a0", "a1", "b0", "c0"), LABELS) is None  # 2 of 4: plurality only
    assert _referred_story(alert("x", 0, "a0"), LABELS) == "A"  # 1 of 1


def test_referred_story_counts_only_day_gold_posts() -> None:
    # Posts without a gold label of the day are left out of the count: 1 of 1 gold post is B's.
    assert _referred_story(alert("x", 0, "other/1", "other/2", "b1"), LABELS) == "B"
    assert _referred_story(alert("x", 0, "other/1", "other/2"), LABELS) is None
    assert _referred_story(alert("x", 0), LABELS) is None


def test_emergence_scores() -> None:
    alerts = [
        alert("al2", 40, "a0", "a1", "a2", "a3", "b0"),  # A (4 of 5), the later of A's two alerts
        alert("al1", 20, "a0", "a1", "a2"),  # A: its first alert, at minute 20
        alert("al3", 30, "c0", "c1", "c2"),  # C: precise (news, 3 posts), not emerging
        alert("al4", 30, "d0", "d1"),  # D: news with 2 posts, not precise
        alert("al5", 30, "n0", "n1", "n2"),  # the noise story: not precise
        alert("al6", 30, "a0", "b0"),  # a tie: no story, counted as an alert, not precise
        alert("al7", 30, "other/1", "other/2"),  # no gold post of the day: ignored altogether
        alert("al8", 15, "other/3", "other/4", "b1"),  # B (1 of 1 gold post), at minute 15
    ]
    result = emergence(LABELS, alerts)
    assert result.emerging_stories == 2  # A, B
    assert result.alerts == 7  # all but al7
    assert result.recall == approx(1.0)  # both A and B are referred to
    # Precise: al1, al2 (A), al3 (C), al8 (B) = 4 of 7.
    assert result.precision == approx(4 / 7)
    # Referred stories A [al1, al2], B [al8], C [al3], D [al4], N [al5]: 6 alerts / 5 stories.
    assert result.alerts_per_referred_story == approx(6 / 5)
    # A: first alert at 20, posts at 0, 10, 20 (at the alert counts) -> 3, 20 minutes after minute 0.
    # B: first alert at 15, posts at 5, 15 -> 2, 10 minutes after minute 5.
    # Medians over the emerging stories only: (3 + 2) / 2 = 2.5 posts, (20 + 10) / 2 = 15 minutes.
    assert result.median_posts_before_alert == approx(2.5)
    assert result.median_minutes_to_alert == approx(15.0)
    assert result.as_dict() == {
        "emerging_stories": 2,
        "alerts": 7,
        "recall": approx(1.0),
        "precision": approx(4 / 7),
        "alerts_per_referred_story": approx(6 / 5),
        "median_posts_before_alert": approx(2.5),
        "median_minutes_to_alert": approx(15.0),
    }


def test_emergence_partial_recall_and_delay() -> None:
    # Only A is found, first at minute 25: posts at 0, 10, 20 came before -> 3, 25 minutes after minute 0.
    result = emergence(LABELS, [alert("x", 25, "a0", "a1"), alert("y", 50, "a2", "a3")])
    assert result.recall == approx(1 / 2)
    assert result.alerts == 2
    assert result.precision == approx(1.0)
    assert result.alerts_per_referred_story == approx(2.0)
    assert result.median_posts_before_alert == 3
    assert result.median_minutes_to_alert == approx(25.0)


def test_emergence_a_post_published_exactly_at_the_alert_counts() -> None:
    # Alert at minute 10 exactly: a0 (0) and a1 (10) -> 2; at minute 9.5: only a0 -> 1.
    assert emergence(LABELS, [alert("x", 10, "a0", "a1")]).median_posts_before_alert == 2
    assert emergence(LABELS, [alert("x", 9.5, "a0", "a1")]).median_posts_before_alert == 1


def test_emergence_precision_threshold_is_a_parameter() -> None:
    alerts = [alert("c", 5, "c0", "c1"), alert("d", 5, "d0", "d1")]
    # C has 3 posts, D has 2: with the default minimum of 3 only C's alert is precise.
    assert emergence(LABELS, alerts).precision == approx(1 / 2)
    assert emergence(LABELS, alerts, min_precise_posts=2).precision == approx(1.0)
    assert emergence(LABELS, alerts, min_precise_posts=4).precision == 0.0


def test_emergence_without_alerts() -> None:
    result = emergence(LABELS, [])
    assert (result.emerging_stories, result.alerts) == (2, 0)
    assert (result.recall, result.precision, result.alerts_per_referred_story) == (0.0, 0.0, 0.0)
    assert result.median_posts_before_alert is None
    assert result.median_minutes_to_alert is None


def test_emergence_alerts_only_on_stories_that_do_not_emerge() -> None:
    # Referred stories exist (C, D) but none emerges: no delays to take a median of.
    result = emergence(LABELS, [alert("c", 5, "c0"), alert("d", 5, "d0"), alert("d2", 6, "d1")])
    assert result.recall == 0.0
    assert result.precision == approx(1 / 3)  # C only
    assert result.alerts_per_referred_story == approx(3 / 2)  # 3 alerts, stories C and D
    assert result.median_posts_before_alert is None
    assert result.median_minutes_to_alert is None


def test_emergence_without_emerging_stories() -> None:
    labels = {**story_posts("C", ("s1", 1), ("s1", 2), ("s1", 3))}
    result = emergence(labels, [alert("c", 5, "c0")])
    assert (result.emerging_stories, result.recall, result.precision) == (0, 0.0, 1.0)


def test_emergence_ignores_alerts_of_other_days() -> None:
    result = emergence(LABELS, [alert("x", 5, "other/1"), alert("y", 5, "other/2", "other/3")])
    assert result.alerts == 0
    assert result.precision == 0.0
    assert result.alerts_per_referred_story == 0.0


# --- pair ranking ---------------------------------------------------------------------------------


def test_pair_ranking_counts_posts_whose_best_earlier_post_is_of_their_story() -> None:
    # In time order: a0 (A, first: not scored), b0 (B, first: not scored), a1, b1.
    labels = {
        "a0": label("A", "s1", 0),
        "b0": label("B", "s1", 1),
        "a1": label("A", "s2", 2),
        "b1": label("B", "s2", 3),
    }
    # a1 is closest to a0 (a hit); b1 is closest to a1 (a miss: b0 scores lower).
    similarity_table = {("a1", "a0"): 0.9, ("a1", "b0"): 0.1, ("b1", "a0"): 0.2, ("b1", "b0"): 0.5}
    similarity_table[("b1", "a1")] = 0.7

    def similarity(item: str, earlier: Sequence[str]) -> list[float]:
        return [similarity_table[(item, other)] for other in earlier]

    assert pair_ranking_accuracy(labels, similarity) == (approx(1 / 2), 2)


def test_pair_ranking_breaks_ties_towards_the_oldest_post() -> None:
    labels = {"a0": label("A", "s1", 0), "b0": label("B", "s1", 1), "a1": label("A", "s2", 2)}
    assert pair_ranking_accuracy(labels, lambda item, earlier: [0.5] * len(earlier)) == (approx(1.0), 1)
    labels = {"b0": label("B", "s1", 0), "a0": label("A", "s1", 1), "a1": label("A", "s2", 2)}
    assert pair_ranking_accuracy(labels, lambda item, earlier: [0.5] * len(earlier)) == (approx(0.0), 1)


def test_pair_ranking_of_a_day_of_singletons_scores_nothing() -> None:
    labels = {"a0": label("A", "s1", 0), "b0": label("B", "s1", 1)}
    assert pair_ranking_accuracy(labels, lambda item, earlier: [1.0] * len(earlier)) == (0.0, 0)
