"""The evaluation protocol: run systems over each gold day's window and score them side by side.

For a gold day D every post published from D-1 00:00 to D+1 00:00 (Tehran) is run (the first day warms the
tracker up) and only the posts of day D listed in the gold file are scored. The Detector and the baselines
share the prepared (normalized, embedded) articles and the scorer, so the rows of a table compare systems,
not inputs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import CachingEmbedder, Embedder
from streams.core.lexical import OnlineTfidf
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.snapshots import final_story
from streams.offline import prepare_in_batches
from streams.records import EmbeddedArticle
from streams.settings import Settings
from streams.tools.evaluation.gold import (
    EvaluationData,
    StreamLine,
    day_window,
    load_labels,
    load_silver_pairs,
    published_times,
    read_stream,
)
from streams.tools.evaluation.metrics import (
    AlertView,
    bcubed,
    emergence,
    pairwise,
    silver_pair_recall,
    vector_pair_ranking,
)


@dataclass(frozen=True, slots=True)
class System:
    """A named configuration of the tracker and alert policy."""

    name: str
    settings: Settings


def _with_tracker(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"tracker": settings.tracker.model_copy(update=changes)})


def standard_systems(settings: Settings) -> list[System]:
    """The configured Detector and the classical baselines (decided by the rule), with the same alert
    policy."""
    return [
        System("detector", settings),
        # The same candidates decided by the joining-score rule instead of the learned linker.
        System("rule", _with_tracker(settings, linker="rule")),
        # Single-pass TF-IDF (uni+bigram) to story centroids, 24 h window (NIST TDT; Miranda et al. 2018).
        System(
            "tfidf@0.15",
            _with_tracker(
                settings, lexical_weight=1.0, lexical_threshold=0.15, window_hours=24, linker="rule"
            ),
        ),
        System(
            "tfidf@0.20",
            _with_tracker(
                settings, lexical_weight=1.0, lexical_threshold=0.20, window_hours=24, linker="rule"
            ),
        ),
        # Single-pass on the dense embedding alone, at the embedder's default threshold.
        System("dense", _with_tracker(settings, lexical_weight=0.0, linker="rule")),
    ]


@dataclass
class SystemRun:
    assignment: dict[str, str] = field(default_factory=dict)
    alerts: list[AlertView] = field(default_factory=list)


def run_system(system: System, articles: Sequence[EmbeddedArticle], embedder: Embedder) -> SystemRun:
    """Track ``articles`` (already in canonical order) with the system's configuration."""
    return track_all(Detector(system.settings, calibration=Calibration.of(embedder)), articles)


def track_all(detector: Detector, articles: Sequence[EmbeddedArticle]) -> SystemRun:
    """Each article's final story (through any merges) and every alert of ``detector`` over ``articles``."""
    run = SystemRun()
    merged_into: dict[str, str] = {}
    for index, result in detector.track_in_order(articles):
        article = articles[index]
        if result.assignment is not None:
            run.assignment[article.id] = result.assignment.story_id
        merged_into.update(
            (snapshot.story_id, snapshot.merged_into) for snapshot in result.snapshots if snapshot.merged_into
        )
        run.alerts.extend(AlertView(a.alert_id, a.at, tuple(a.article_ids)) for a in result.alerts)
    run.assignment = {article: final_story(story, merged_into) for article, story in run.assignment.items()}
    return run


def prepare_window(
    lines: Sequence[StreamLine], day: date, settings: Settings, embedder: Embedder, progress: bool
) -> list[EmbeddedArticle]:
    """Normalize and embed the run window of ``day``; return the accepted articles in canonical order."""
    start, end = day_window(day)
    messages = [
        InputMessage(raw=line.raw, offset=index)
        for index, line in enumerate(lines)
        if line.published_at is not None and start <= line.published_at < end
    ]
    prepared = prepare_in_batches(
        Detector(settings, embedder), messages, settings.embedder.batch_size, progress, f"embedding {day}"
    )
    return sorted((item for item in prepared if isinstance(item, EmbeddedArticle)), key=canonical_order_key)


def pair_ranking(articles: Sequence[EmbeddedArticle], labels: dict[str, Any]) -> dict[str, Any]:
    """``pair_ranking_accuracy`` of each piece of evidence the tracker has: the embedder's raw cosine, its
    cosine after subtracting the window's mean vector, and the TF-IDF (uni+bigram) cosine with document
    frequencies from the window."""
    vectors = {article.id: article.vector() for article in articles}
    mean = np.stack(list(vectors.values())).mean(axis=0).astype(np.float32) if vectors else None
    tfidf = OnlineTfidf()
    for article in articles:
        tfidf.observe(article.tokens)
    lexical = {article.id: tfidf.vector(article.tokens) for article in articles if article.id in labels}
    dense, posts = vector_pair_ranking(labels, vectors)
    return {
        "dense": dense,
        "posts": posts,
        "dense_centered": vector_pair_ranking(labels, vectors, mean)[0] if mean is not None else 0.0,
        "tfidf": vector_pair_ranking(labels, lexical)[0],
    }


def score_day(run: SystemRun, labels: dict[str, Any], silver: Sequence[tuple[str, str]]) -> dict[str, Any]:
    items = sorted(labels)
    news = [item for item in items if labels[item].kind == "news"]
    gold = {item: labels[item].story for item in items}
    silver_recall, silver_pairs = silver_pair_recall(silver, run.assignment)
    return {
        "bcubed": bcubed(items, gold, run.assignment).as_dict(),
        "news_bcubed": bcubed(news, gold, run.assignment).as_dict(),
        "pairwise": pairwise(items, gold, run.assignment).as_dict(),
        "news_pairwise": pairwise(news, gold, run.assignment).as_dict(),
        "silver_pair_recall": silver_recall,
        "silver_pairs_scored": silver_pairs,
        "emergence": emergence(labels, run.alerts).as_dict(),
    }


def evaluate(
    data_root: Path,
    days: Sequence[date],
    settings: Settings,
    embedder: Embedder,
    systems: Sequence[System] | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Scores per day and system, as a JSON-ready mapping."""
    data = EvaluationData(data_root)
    data.check()
    lines = read_stream(data.stream)
    published_by_id = published_times(lines)
    silver = load_silver_pairs(data)
    cached = CachingEmbedder.in_folder(embedder, cache_dir) if cache_dir else None
    systems = list(systems or standard_systems(settings))
    report: dict[str, Any] = {"days": {}, "systems": [system.name for system in systems]}
    for day in days:
        labels = load_labels(data, day, published_by_id)
        articles = prepare_window(lines, day, settings, cached or embedder, progress)
        if cached:
            cached.save()
        report["days"][day.isoformat()] = {
            "split": data.split_of(day),
            "articles_run": len(articles),
            "gold_posts": len(labels),
            "pair_ranking": pair_ranking(articles, labels),
            "systems": {
                system.name: score_day(run_system(system, articles, embedder), labels, silver)
                for system in systems
            },
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    """One table per day, a row per system."""
    header = (
        f"{'system':<12} {'BCubed F1':>9} {'news B3 F1':>10} {'pair P':>7} {'pair R':>7} {'pair F1':>7} "
        f"{'news pF1':>8} {'silver':>6} {'emerg':>5} {'alerts':>6} {'al.rec':>6} {'al.prec':>7} "
        f"{'al/st':>5} {'posts':>5} {'min':>6}"
    )
    out = []
    for day, result in report["days"].items():
        ranking = result["pair_ranking"]
        out.append(
            f"\n{day} ({result['split']}): {result['articles_run']} articles run, {result['gold_posts']} "
            f"gold posts scored\nsame-story post ranked first among the day's earlier posts, over "
            f"{ranking['posts']} posts: dense {ranking['dense']:.3f}, dense centered "
            f"{ranking['dense_centered']:.3f}, tfidf {ranking['tfidf']:.3f}"
        )
        out.append(header)
        for name, scores in result["systems"].items():
            e = scores["emergence"]
            posts = e["median_posts_before_alert"]
            minutes = e["median_minutes_to_alert"]
            out.append(
                f"{name:<12} {scores['bcubed']['f1']:>9.3f} {scores['news_bcubed']['f1']:>10.3f} "
                f"{scores['pairwise']['precision']:>7.3f} {scores['pairwise']['recall']:>7.3f} "
                f"{scores['pairwise']['f1']:>7.3f} {scores['news_pairwise']['f1']:>8.3f} "
                f"{scores['silver_pair_recall']:>6.3f} {e['emerging_stories']:>5} {e['alerts']:>6} "
                f"{e['recall']:>6.2f} {e['precision']:>7.2f} {e['alerts_per_referred_story']:>5.2f} "
                f"{'-' if posts is None else f'{posts:g}':>5} "
                f"{'-' if minutes is None else f'{minutes:.0f}':>6}"
            )
    return "\n".join(out)


def write_report(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
