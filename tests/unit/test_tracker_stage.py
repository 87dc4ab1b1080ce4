"""The tracker stage's crash recovery without a broker: checkpoint, crash, restore, re-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.checkpoint import Checkpoint
from streams.embedding import HashingEmbedder
from streams.errors import ConfigurationError
from streams.pipeline import ArticlePreparer, InputMessage
from streams.records import EmbeddedArticle, Rejection
from streams.settings import AlertSettings, KafkaSettings, Settings, TrackerSettings, WorkerSettings
from streams.tracker_stage import TrackerStage

EMBEDDER = HashingEmbedder(256)
SETTINGS = Settings(
    worker=WorkerSettings(checkpoint_every=40),
    alerts=AlertSettings(min_articles=2, min_sources=1),
    kafka=KafkaSettings(articles_partitions=2),
)


@pytest.fixture(scope="module")
def records(sample_path: Path) -> list[bytes]:
    """The sample as the tracker's input topic holds it: embedded records (and a bad one), offset = index."""
    preparer = ArticlePreparer(Settings(), EMBEDDER)
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    prepared = preparer.prepare(
        [InputMessage(raw=line, partition=index % 2, offset=index) for index, line in enumerate(lines)]
    )
    values = [item.to_json_bytes() for item in prepared if isinstance(item, EmbeddedArticle)]
    values.insert(50, b"{not an embedded record")
    return values


def stage(settings: Settings = SETTINGS) -> TrackerStage[None]:
    return TrackerStage(settings, EMBEDDER.default_threshold, default_centered=True)


def feed(
    tracker: TrackerStage[None], items: list[tuple[int, bytes]], checkpoints: list[bytes]
) -> list[list[str]]:
    """Every input message's outputs (JSON lines), in order; checkpoints written on the way are appended."""
    outputs: list[list[str]] = []
    for offset, raw in items:
        outcome = tracker.accept(offset, raw)
        lines: list[str] = []
        if isinstance(outcome, Rejection):
            lines.append(outcome.reason)
        elif outcome is not None:
            for held in outcome:
                result = tracker.track(held.article)
                parts = [result.assignment, result.rejection, *result.snapshots, *result.alerts]
                lines += [part.model_dump_json() for part in parts if part is not None]
        outputs.append(lines)
        if tracker.checkpoint_due():
            checkpoints.append(tracker.checkpoint_state().to_bytes())
    return outputs


def span(records: list[bytes], start: int, end: int) -> list[tuple[int, bytes]]:
    return [(offset, records[offset]) for offset in range(max(start, 0), min(end, len(records)))]


@pytest.mark.parametrize("crash_at", [45, 130, 260])
@pytest.mark.parametrize("redelivery", ["after the checkpoint", "before the checkpoint"])
def test_a_restarted_tracker_re_emits_from_its_checkpoint_and_ends_like_the_uninterrupted_one(
    records: list[bytes], crash_at: int, redelivery: str
) -> None:
    whole = stage()
    expected = feed(whole, span(records, 0, len(records)), [])

    checkpoints: list[bytes] = []
    feed(stage(), span(records, 0, crash_at), checkpoints)
    checkpoint_offset = Checkpoint.from_bytes(checkpoints[-1]).offset
    # Kafka delivers again from the group's last committed offset, which may lie on either side.
    first = crash_at - 3 if redelivery == "after the checkpoint" else checkpoint_offset - 5

    restarted = stage()
    replayed = restarted.recover(first, lambda: checkpoints[-1], lambda start, end: span(records, start, end))
    assert restarted.restored_from == checkpoint_offset
    outputs = feed(restarted, replayed, [])
    outputs += feed(restarted, span(records, first, len(records)), [])

    # Messages at or before the checkpoint are skipped; everything after it is emitted (again).
    assert [lines for lines in outputs if lines] == [
        lines for lines in expected[checkpoint_offset + 1 :] if lines
    ]
    assert restarted.checkpoint_state().detector == whole.checkpoint_state().detector
    assert restarted.position == whole.position == len(records) - 1


def test_without_a_checkpoint_the_tracker_starts_empty(records: list[bytes]) -> None:
    tracker = stage()
    assert tracker.recover(0, lambda: None, lambda start, end: span(records, start, end)) == []
    assert tracker.recovered and tracker.restored_from is None and tracker.active_stories == 0


def test_a_checkpoint_of_other_settings_is_refused_with_what_to_do(records: list[bytes]) -> None:
    checkpoints: list[bytes] = []
    feed(stage(), span(records, 0, 45), checkpoints)
    other = SETTINGS.model_copy(update={"tracker": TrackerSettings(window_hours=6)})
    tracker = stage(other)
    replayed = tracker.recover(45, lambda: checkpoints[-1], lambda start, end: span(records, start, end))
    with pytest.raises(ConfigurationError, match="other tracker, alert or embedder settings"):
        feed(tracker, replayed, [])


def test_an_unreadable_checkpoint_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="delete that topic"):
        stage().recover(0, lambda: b"garbage", lambda start, end: [])


def test_an_article_embedded_again_is_skipped_even_after_its_story_closed(records: list[bytes]) -> None:
    # The stateless stage re-embeds articles after a crash; by then their stories may have expired and
    # their ids been forgotten, but their input offsets still tell them apart from new articles.
    tracker = stage()
    feed(tracker, span(records, 0, len(records)), [])
    early = EmbeddedArticle.model_validate_json(records[0])
    assert tracker.accept(len(records), early.to_json_bytes()) is None
    assert tracker.redelivered == 1
    # The same article sent again by a producer is a new input message (a new offset): not skipped.
    resent = early.model_copy(update={"input_offset": 10_000}).to_json_bytes()
    assert tracker.accept(len(records) + 1, resent) is not None
