"""train-linker's parts: the candidates' labels, the logistic fit and the threshold's selection score."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.core.story_linking import FEATURES, StoryLinker
from streams.records import EmbeddedArticle
from streams.settings import Settings, TrackerSettings
from streams.tools.evaluation.metrics import GoldLabel
from streams.tools.linker_training import (
    GoldDay,
    candidate_examples,
    day_scores,
    fit_logistic,
    selection_score,
)

EMBEDDER = HashingEmbedder(256)
RULE = Settings(tracker=TrackerSettings(linker="rule"))
CALIBRATION = Calibration(EMBEDDER.default_threshold, centered=False)


@pytest.fixture(scope="module")
def sample_day(sample_path: Path) -> GoldDay:
    """The bundled sample as a gold day: its ``sample_story`` field is the label."""
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    prepared = ArticlePreparer(Settings(), EMBEDDER).prepare(
        [InputMessage(raw=line, offset=index) for index, line in enumerate(lines)]
    )
    articles = sorted(
        (item for item in prepared if isinstance(item, EmbeddedArticle)), key=canonical_order_key
    )
    labels = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str) and "sample_story" in record:
            story = record["sample_story"]
            kind = "noise" if story.startswith("noise") else "news"
            by_id = {article.id: article for article in articles}
            if record["id"] in by_id:
                labels[record["id"]] = GoldLabel(
                    story, kind, record["source"], by_id[record["id"]].published_at
                )
    return GoldDay(date(2026, 3, 2), "train", articles, labels)


def test_candidates_are_positive_when_most_of_their_members_share_the_story(sample_day: GoldDay) -> None:
    features, labels = candidate_examples(RULE, CALIBRATION, sample_day)
    assert features and len(features) == len(labels)
    assert all(len(row) == len(FEATURES) for row in features)
    assert 0 < sum(labels) < len(labels)
    # Replaying the same day gives the same examples (what makes the fit reproducible).
    assert candidate_examples(RULE, CALIBRATION, sample_day) == (features, labels)
    # Every post its own story: no candidate is ever right. One story for all: every candidate is.
    alone = {
        item: GoldLabel(item, "news", label.source, label.published_at)
        for item, label in sample_day.labels.items()
    }
    assert set(candidate_examples(RULE, CALIBRATION, replace(sample_day, labels=alone))[1]) == {0}
    together = {
        item: GoldLabel("one", "news", label.source, label.published_at)
        for item, label in sample_day.labels.items()
    }
    assert set(candidate_examples(RULE, CALIBRATION, replace(sample_day, labels=together))[1]) == {1}


def test_the_fit_finds_the_informative_feature_and_is_deterministic() -> None:
    generator = np.random.default_rng(7)
    features = generator.normal(size=(400, 3))
    labels = (features[:, 1] + 0.3 * generator.normal(size=400) > 0).astype(np.float64)
    weights, bias, mean, scale = fit_logistic(features, labels)
    assert abs(weights[1]) > 5 * max(abs(weights[0]), abs(weights[2]))
    assert weights[1] > 0
    again = fit_logistic(features.copy(), labels.copy())
    assert np.array_equal(weights, again[0]) and bias == again[1]
    np.testing.assert_allclose(mean, features.mean(axis=0))
    np.testing.assert_allclose(scale, features.std(axis=0))


def test_a_fitted_linker_on_the_sample_beats_opening_everything(sample_day: GoldDay) -> None:
    features, labels = candidate_examples(RULE, CALIBRATION, sample_day)
    weights, bias, mean, scale = fit_logistic(np.asarray(features), np.asarray(labels, dtype=np.float64))
    fitted = StoryLinker(
        tuple(weights.tolist()), bias, tuple(mean.tolist()), tuple(scale.tolist()), 0.5, trained_with={}
    )
    learned = day_scores(Detector(RULE, calibration=CALIBRATION, linker=fitted), sample_day)
    never = StoryLinker(
        (0.0,) * len(FEATURES), -50.0, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), 0.5, {}
    )
    singletons = day_scores(Detector(RULE, calibration=CALIBRATION, linker=never), sample_day)
    assert singletons["alert_recall"] == 0.0
    assert learned["news_bcubed_f1"] > singletons["news_bcubed_f1"] + 0.2
    assert selection_score({"d": learned}) == pytest.approx(
        (learned["news_bcubed_f1"] + learned["alert_f1"]) / 2
    )
