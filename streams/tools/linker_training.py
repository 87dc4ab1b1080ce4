"""``python -m streams train-linker``: fit the learned join decision on the gold training days.

1. Each training day's window runs through the Detector under the rule, which describes every article's
   candidate stories (``streams/core/story_linking.py``'s features). A candidate is a positive when most of
   its gold-labelled members share the article's gold story; an article whose story has no earlier post has
   only negatives (it should open a story).
2. A logistic regression over the standardized features is fitted by Newton's method with an L2 penalty
   (deterministic: the same data give the same weights).
3. The join threshold is selected on the development days (never trained on) over a fixed grid: the one
   with the best mean of news BCubed F1 and alert F1 (``selection_score``).

The output is small JSON (``streams/models/story_linker.json`` is the bundled one); rerunning the command on
the same data rebuilds it exactly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import CachingEmbedder, Embedder
from streams.core.story_linking import FEATURES, StoryLinker, configuration_of
from streams.records import EmbeddedArticle
from streams.settings import Settings
from streams.tools.e5_export import file_sha256
from streams.tools.evaluation.gold import EvaluationData, load_labels, published_times, read_stream
from streams.tools.evaluation.metrics import GoldLabel
from streams.tools.evaluation.runner import prepare_window, score_day, track_all

THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
L2_PENALTY = 1.0
NEWTON_STEPS = 100
# Weights are rounded so that the file does not depend on the last bits of a machine's BLAS.
DECIMALS = 8


@dataclass(frozen=True, slots=True)
class GoldDay:
    day: date
    split: str
    articles: list[EmbeddedArticle]
    labels: dict[str, GoldLabel]


def candidate_examples(
    settings: Settings, calibration: Calibration, day: GoldDay
) -> tuple[list[list[float]], list[int]]:
    """Features and labels of every gold-labelled article's candidates, under the rule."""
    detector = Detector(settings, calibration=calibration, describe_candidates=True)
    members: dict[str, list[str]] = defaultdict(list)  # story id -> gold stories of its labelled members
    features: list[list[float]] = []
    labels: list[int] = []
    for index, result in detector.track_in_order(day.articles):
        article = day.articles[index]
        gold = day.labels.get(article.id)
        if gold is not None:
            for story_id, row in result.candidates:
                majority = Counter(members[story_id]).most_common(1)
                features.append(list(row))
                labels.append(int(bool(majority) and majority[0][0] == gold.story))
        if result.assignment is not None and gold is not None:
            members[result.assignment.story_id].append(gold.story)
    return features, labels


def fit_logistic(
    features: NDArray[np.float64], labels: NDArray[np.float64], penalty: float = L2_PENALTY
) -> tuple[NDArray[np.float64], float, NDArray[np.float64], NDArray[np.float64]]:
    """Weights, bias, mean and scale of an L2-penalized logistic regression on standardized features."""
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant column carries nothing
    design = np.hstack([(features - mean) / scale, np.ones((len(features), 1))])
    penalties = np.full(design.shape[1], penalty)
    penalties[-1] = 0.0  # the bias is not shrunk
    coefficients = np.zeros(design.shape[1])
    for _ in range(NEWTON_STEPS):
        probabilities = 1.0 / (1.0 + np.exp(-(design @ coefficients)))
        gradient = design.T @ (probabilities - labels) + penalties * coefficients
        hessian = (design * (probabilities * (1.0 - probabilities))[:, None]).T @ design + np.diag(penalties)
        step = np.linalg.solve(hessian + 1e-9 * np.eye(len(coefficients)), gradient)
        coefficients -= step
        if float(np.abs(step).max()) < 1e-12:
            break
    return coefficients[:-1], float(coefficients[-1]), mean, scale


def day_scores(detector: Detector, day: GoldDay) -> dict[str, float]:
    """News BCubed and pairwise F1, and the alerts' recall, precision and F1, of one day (the evaluation's
    own scorer, ``score_day``)."""
    scores = score_day(track_all(detector, day.articles), day.labels, silver=())
    recall, precision = scores["emergence"]["recall"], scores["emergence"]["precision"]
    alert_f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return {
        "news_bcubed_f1": round(scores["news_bcubed"]["f1"], 4),
        "news_pairwise_f1": round(scores["news_pairwise"]["f1"], 4),
        "alert_recall": round(recall, 4),
        "alert_precision": round(precision, 4),
        "alert_f1": round(alert_f1, 4),
    }


def selection_score(scores: Mapping[str, Mapping[str, float]]) -> float:
    """What the threshold is selected by: stories and alerts alike, the mean over the days of the news
    BCubed F1 and the alert F1 (the product's two outputs)."""
    return float(np.mean([(day["news_bcubed_f1"] + day["alert_f1"]) / 2 for day in scores.values()]))


def load_gold_days(
    data: EvaluationData, settings: Settings, embedder: Embedder, progress: bool
) -> list[GoldDay]:
    data.check()
    lines = read_stream(data.stream)
    published = published_times(lines)
    days = []
    for split in ("train", "dev"):
        for day in data.days(split):
            articles = prepare_window(lines, day, settings, embedder, progress)
            days.append(GoldDay(day, split, articles, load_labels(data, day, published)))
    return days


def train_linker(
    data_root: Path, settings: Settings, embedder: Embedder, cache_dir: Path | None, progress: bool = True
) -> tuple[StoryLinker, dict[str, Any]]:
    """The fitted linker and a report: dev-day figures of the rule and of each threshold."""
    data = EvaluationData(data_root)
    rule_settings = settings.model_copy(
        update={"tracker": settings.tracker.model_copy(update={"linker": "rule"})}
    )
    cached = CachingEmbedder.in_folder(embedder, cache_dir) if cache_dir else None
    days = load_gold_days(data, rule_settings, cached or embedder, progress)
    if cached:
        cached.save()
    calibration = Calibration.of(embedder)
    train = [day for day in days if day.split == "train"]
    dev = [day for day in days if day.split == "dev"]
    if not train or not dev:
        raise FileNotFoundError(
            f"train-linker needs training and development gold days in {data.root / 'gold'}"
        )
    rows: list[list[float]] = []
    targets: list[int] = []
    for day in tqdm(train, desc="describing candidates", unit="day", disable=not progress):
        features, labels = candidate_examples(rule_settings, calibration, day)
        rows.extend(features)
        targets.extend(labels)
    weights, bias, mean, scale = fit_logistic(np.asarray(rows), np.asarray(targets, dtype=np.float64))
    fitted = StoryLinker(
        weights=tuple(round(float(value), DECIMALS) for value in weights),
        bias=round(bias, DECIMALS),
        mean=tuple(round(float(value), DECIMALS) for value in mean),
        scale=tuple(round(float(value), DECIMALS) for value in scale),
        threshold=0.5,
        trained_with={
            **configuration_of(rule_settings, calibration),
            "trained_on": [day.day.isoformat() for day in train],
            "threshold_selected_on": [day.day.isoformat() for day in dev],
            "examples": len(targets),
            "positives": int(sum(targets)),
        },
    )
    report: dict[str, Any] = {
        "rule": {
            day.day.isoformat(): day_scores(Detector(rule_settings, calibration=calibration), day)
            for day in dev
        },
        "thresholds": {},
    }
    best_threshold, best_score = THRESHOLDS[0], -1.0
    for threshold in tqdm(THRESHOLDS, desc="selecting the threshold", unit="threshold", disable=not progress):
        linker = replace(fitted, threshold=threshold)
        scores = {
            day.day.isoformat(): day_scores(Detector(settings, calibration=calibration, linker=linker), day)
            for day in dev
        }
        report["thresholds"][str(threshold)] = scores
        score = selection_score(scores)
        if score > best_score + 1e-9:
            best_threshold, best_score = threshold, score
    chosen = replace(
        fitted,
        threshold=best_threshold,
        trained_with={**fitted.trained_with, "dev_scores": report["thresholds"][str(best_threshold)]},
    )
    report["threshold"] = best_threshold
    report["weights"] = dict(zip(FEATURES, chosen.weights, strict=True))
    return chosen, report


def write_linker(linker: StoryLinker, path: Path) -> str:
    """Write the linker file; return its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(linker.to_json(), encoding="utf-8")
    return file_sha256(path)


def describe_report(report: Mapping[str, Any]) -> str:
    """The dev-day figures per decision: news BCubed F1 / pairwise F1, alert recall @ precision."""

    def figures(scores: Mapping[str, Mapping[str, float]]) -> str:
        return "  ".join(
            f"{day}: {score['news_bcubed_f1']:.3f} / {score['news_pairwise_f1']:.3f}, alerts "
            f"{score['alert_recall']:.2f} @ {score['alert_precision']:.2f}"
            for day, score in scores.items()
        )

    lines = ["development days: news BCubed F1 / pairwise F1, alert recall @ precision"]
    lines.append(f"  rule         {figures(report['rule'])}")
    for threshold, scores in report["thresholds"].items():
        marker = " <- selected" if float(threshold) == report["threshold"] else ""
        lines.append(f"  linker@{float(threshold):.2f}  {figures(scores)}{marker}")
    return "\n".join(lines)
