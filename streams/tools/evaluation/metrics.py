"""Scoring a run against gold story labels: clustering (BCubed, pairwise), silver pairs, emergence.

Pure functions over plain mappings, so a baseline and the Detector go through the same scorer.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class GoldLabel:
    story: str
    kind: str  # "news" | "noise"
    source: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class PrecisionRecall:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1}


def _clusters[L: Hashable](items: Iterable[str], label_of: Mapping[str, L]) -> dict[L, set[str]]:
    clusters: dict[L, set[str]] = defaultdict(set)
    for item in items:
        clusters[label_of[item]].add(item)
    return clusters


def _predicted_labels(items: Sequence[str], assignment: Mapping[str, str]) -> dict[str, str]:
    # An item the run did not assign is a singleton of its own.
    return {item: assignment.get(item, f"__unassigned__/{item}") for item in items}


def bcubed(items: Sequence[str], gold: Mapping[str, str], assignment: Mapping[str, str]) -> PrecisionRecall:
    """BCubed precision and recall, per item, averaged over ``items`` (clusters restricted to them)."""
    if not items:
        return PrecisionRecall(0.0, 0.0)
    predicted = _predicted_labels(items, assignment)
    predicted_clusters = _clusters(items, predicted)
    gold_clusters = _clusters(items, gold)
    precision = recall = 0.0
    for item in items:
        mine, truth = predicted_clusters[predicted[item]], gold_clusters[gold[item]]
        shared = len(mine & truth)
        precision += shared / len(mine)
        recall += shared / len(truth)
    return PrecisionRecall(precision / len(items), recall / len(items))


def _same_cluster_pairs(clusters: Iterable[set[str]]) -> int:
    return sum(len(members) * (len(members) - 1) // 2 for members in clusters)


def pairwise(items: Sequence[str], gold: Mapping[str, str], assignment: Mapping[str, str]) -> PrecisionRecall:
    """Precision and recall over item pairs put in one cluster (Miranda et al. 2018)."""
    predicted = _predicted_labels(items, assignment)
    predicted_pairs = _same_cluster_pairs(_clusters(items, predicted).values())
    gold_pairs = _same_cluster_pairs(_clusters(items, gold).values())
    both = _same_cluster_pairs(
        _clusters(items, {item: (predicted[item], gold[item]) for item in items}).values()
    )
    return PrecisionRecall(
        both / predicted_pairs if predicted_pairs else 1.0,
        both / gold_pairs if gold_pairs else 1.0,
    )


def silver_pair_recall(pairs: Iterable[tuple[str, str]], assignment: Mapping[str, str]) -> tuple[float, int]:
    """Share of pairs, among those whose both posts the run assigned, that share a story; and their count."""
    scored = [(a, b) for a, b in pairs if a in assignment and b in assignment]
    if not scored:
        return 0.0, 0
    return sum(assignment[a] == assignment[b] for a, b in scored) / len(scored), len(scored)


@dataclass(frozen=True, slots=True)
class AlertView:
    """What the scorer needs of an alert."""

    alert_id: str
    at: datetime
    article_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EmergenceScores:
    emerging_stories: int
    alerts: int
    recall: float
    precision: float
    alerts_per_referred_story: float
    median_posts_before_alert: float | None
    median_minutes_to_alert: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def emerging_gold_stories(
    labels: Mapping[str, GoldLabel], min_posts: int = 4, min_sources: int = 2
) -> set[str]:
    """News stories of the day with at least ``min_posts`` posts from at least ``min_sources`` sources."""
    posts: Counter[str] = Counter()
    sources: dict[str, set[str]] = defaultdict(set)
    for label in labels.values():
        if label.kind == "news":
            posts[label.story] += 1
            sources[label.story].add(label.source)
    return {
        story for story, count in posts.items() if count >= min_posts and len(sources[story]) >= min_sources
    }


def emergence(
    labels: Mapping[str, GoldLabel], alerts: Sequence[AlertView], min_precise_posts: int = 3
) -> EmergenceScores:
    """Alert recall, precision, redundancy and delay against the gold stories of one day."""
    emerging = emerging_gold_stories(labels)
    story_size = Counter(label.story for label in labels.values())
    story_kind = {label.story: label.kind for label in labels.values()}
    day_alerts = [alert for alert in alerts if any(i in labels for i in alert.article_ids)]
    referred: dict[str, list[AlertView]] = defaultdict(list)
    precise = 0
    for alert in day_alerts:
        story = _referred_story(alert, labels)
        if story is None:
            continue
        referred[story].append(alert)
        if story_kind[story] == "news" and story_size[story] >= min_precise_posts:
            precise += 1
    posts_before: list[float] = []
    minutes: list[float] = []
    for story, story_alerts in referred.items():
        if story not in emerging:
            continue
        first_alert = min(alert.at for alert in story_alerts)
        times = sorted(label.published_at for label in labels.values() if label.story == story)
        posts_before.append(sum(time <= first_alert for time in times))
        minutes.append((first_alert - times[0]).total_seconds() / 60)
    return EmergenceScores(
        emerging_stories=len(emerging),
        alerts=len(day_alerts),
        recall=len(emerging & referred.keys()) / len(emerging) if emerging else 0.0,
        precision=precise / len(day_alerts) if day_alerts else 0.0,
        alerts_per_referred_story=(
            sum(len(found) for found in referred.values()) / len(referred) if referred else 0.0
        ),
        median_posts_before_alert=statistics.median(posts_before) if posts_before else None,
        median_minutes_to_alert=statistics.median(minutes) if minutes else None,
    )


def _referred_story(alert: AlertView, labels: Mapping[str, GoldLabel]) -> str | None:
    """The gold story holding more than half of the alert's day-D gold posts, if any."""
    stories = Counter(labels[i].story for i in alert.article_ids if i in labels)
    if not stories:
        return None
    story, count = stories.most_common(1)[0]
    return story if count * 2 > sum(stories.values()) else None


def pair_ranking_accuracy(
    labels: Mapping[str, GoldLabel], similarity: Callable[[str, Sequence[str]], Sequence[float]]
) -> tuple[float, int]:
    """How often a gold post's most similar earlier post of the day is of its own story.

    Over the posts of the day that have an earlier same-story post (ties in time broken by id), among all
    earlier posts of the day; ``similarity(post, earlier)`` scores each earlier post. Returns the accuracy
    and the number of posts it is taken over. What the evidence alone allows, before any decision rule.
    """
    ordered = sorted(labels, key=lambda item: (labels[item].published_at, item))
    hits = scored = 0
    for position, item in enumerate(ordered):
        earlier = ordered[:position]
        if not any(labels[other].story == labels[item].story for other in earlier):
            continue
        scores = similarity(item, earlier)
        best = max(range(len(earlier)), key=lambda index: (scores[index], -index))
        hits += labels[earlier[best]].story == labels[item].story
        scored += 1
    return (hits / scored if scored else 0.0), scored


def vector_pair_ranking(
    labels: Mapping[str, GoldLabel],
    vectors: Mapping[str, NDArray[np.float32]],
    mean: NDArray[np.float32] | None = None,
) -> tuple[float, int]:
    """``pair_ranking_accuracy`` with the cosine of ``vectors`` (unit rows), taken after subtracting ``mean``
    when given (the tracker's centering). Only the posts that have a vector are scored."""
    scored = {item: label for item, label in labels.items() if item in vectors}
    by_id = dict(vectors)
    if mean is not None:
        for item in scored:
            centered = vectors[item] - mean
            norm = float(np.linalg.norm(centered))
            by_id[item] = centered / norm if norm > 0 else centered

    def similarity(item: str, earlier: Sequence[str]) -> list[float]:
        return [float(score) for score in np.stack([by_id[other] for other in earlier]) @ by_id[item]]

    return pair_ranking_accuracy(scored, similarity)
