"""Checkpoint state: a detector (and reorder buffer) restored from its JSON state continues exactly as the
uninterrupted one would, which is what crash recovery relies on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.core.calibration import Calibration
from streams.core.detector import Detector, TrackResult
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.ordering import ReorderBuffer, canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.records import EmbeddedArticle
from streams.settings import AlertSettings, Settings, TrackerSettings

EMBEDDER = HashingEmbedder(256)

SETTINGS = {
    "defaults": Settings(),
    # A hot tier far smaller than the story count: the cold index and evictions are in the state too.
    "small-hot-tier": Settings(
        tracker=TrackerSettings(hot_stories=6, neighbors=3),
        alerts=AlertSettings(min_articles=2, min_sources=1),
    ),
}


@pytest.fixture(scope="module")
def articles(sample_path: Path) -> list[EmbeddedArticle]:
    preparer = ArticlePreparer(Settings(), EMBEDDER)
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    prepared = preparer.prepare([InputMessage(raw=line, offset=index) for index, line in enumerate(lines)])
    accepted = [item for item in prepared if isinstance(item, EmbeddedArticle)]
    assert len(accepted) > 250
    return sorted(accepted, key=canonical_order_key)


def outputs(result: TrackResult) -> list[str]:
    records: list[Any] = [result.assignment, result.rejection, *result.snapshots, *result.alerts]
    return [record.model_dump_json() for record in records if record is not None]


def new_detector(settings: Settings) -> Detector:
    return Detector(settings, calibration=Calibration(EMBEDDER.default_threshold, centered=True))


@pytest.mark.parametrize("name", sorted(SETTINGS))
@pytest.mark.parametrize("cut", [1, 97, 200])
def test_a_restored_detector_continues_like_the_uninterrupted_one(
    articles: list[EmbeddedArticle], name: str, cut: int
) -> None:
    settings = SETTINGS[name]
    uninterrupted = new_detector(settings)
    expected = [outputs(uninterrupted.track(article)) for article in articles]
    # Re-send a recent article at the end: the restored detector must still know it as a duplicate.
    tail = [*articles[cut:], articles[-5]]
    expected.append(outputs(uninterrupted.track(articles[-5])))

    first = new_detector(settings)
    got = [outputs(first.track(article)) for article in articles[:cut]]
    state = json.loads(json.dumps(first.to_state()))  # through JSON, as it travels
    restored = new_detector(settings)
    restored.load_state(EMBEDDER.dimension, state)
    got += [outputs(restored.track(article)) for article in tail]

    assert got == expected
    assert any("duplicate_id" in line for line in got[-1])
    assert json.dumps(restored.to_state(), sort_keys=True) == json.dumps(
        uninterrupted.to_state(), sort_keys=True
    )


def test_a_restored_reorder_buffer_releases_what_the_uninterrupted_one_would() -> None:
    t0 = datetime(2026, 3, 2, tzinfo=UTC)
    clock = [0.0]
    pushes = [(f"a{index}", t0 + timedelta(minutes=(index * 7) % 11), index % 3) for index in range(30)]

    def run(buffer: ReorderBuffer[str], items: list[tuple[str, datetime, int]]) -> list[str]:
        released: list[str] = []
        for key, moment, partition in items:
            released += buffer.push(key, moment, key, partition)
        return released

    whole = ReorderBuffer[str](partitions=3, idle_seconds=60, wall_clock=lambda: clock[0])
    expected = run(whole, pushes) + whole.flush()

    first = ReorderBuffer[str](partitions=3, idle_seconds=60, wall_clock=lambda: clock[0])
    got = run(first, pushes[:13])
    state = json.loads(json.dumps(first.to_state(lambda item: item)))
    assert state["held"], "the cut must leave items held back"
    second = ReorderBuffer[str](partitions=3, idle_seconds=60, wall_clock=lambda: clock[0])
    second.load_state(state, str)
    got += run(second, pushes[13:]) + second.flush()
    assert got == expected
    assert second.late_count == whole.late_count
