"""The worker's real Faust agents, run in-process on memory (faust's ``test_context``, no broker): a sample
split over four input partitions and interleaved in a random order gives exactly the offline run's stories,
assignments, alerts and dead letters (live = offline, at unit speed)."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.memory_kafka import ManualClock, MemoryRecovery, MemorySink, partitioned

from streams.core.calibration import Calibration
from streams.core.embedding import create_embedder
from streams.core.story_linking import FEATURES, StoryLinker, configuration_of
from streams.files import read_messages
from streams.kafka.app import create_app
from streams.kafka.topics import TopicNames
from streams.offline import OfflineResult, run_offline
from streams.settings import EmbedderSettings, KafkaSettings, Settings, WorkerSettings

PARTITIONS = 4
SETTINGS = Settings(
    kafka=KafkaSettings(articles_partitions=PARTITIONS, topic_prefix="in-process"),
    embedder=EmbedderSettings(backend="hashing", batch_size=8),
    worker=WorkerSettings(embed_batch_seconds=0.05, checkpoint_every=50),
)
NAMES = TopicNames.from_prefix(SETTINGS.kafka.topic_prefix)


async def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


def agent_named(app: Any, name: str) -> Any:
    return next(agent for agent in app.agents.values() if agent.name.endswith(name))


async def run_worker(lines: list[bytes], seed: int, settings: Settings = SETTINGS) -> tuple[MemorySink, Any]:
    """The sample through both agents: input partitions interleaved at random, then the tracker's input."""
    sink = MemorySink()
    clock = ManualClock()
    app = create_app(settings, sink=sink, recovery=MemoryRecovery(sink, NAMES), idle_clock=clock)
    partitions = partitioned(lines, PARTITIONS)
    rng = random.Random(seed)
    # Each partition keeps its order; which partition the consumer fetches from next is random.
    schedule = [index for index, messages in enumerate(partitions) for _ in messages]
    rng.shuffle(schedule)
    cursors = [0] * PARTITIONS

    async with agent_named(app, "prepare_articles").test_context() as prepare:
        for partition in schedule:
            message = partitions[partition][cursors[partition]]
            cursors[partition] += 1
            await prepare.put(value=message.raw, partition=partition, wait=False)
        await wait_for(
            lambda: len(sink.topics[NAMES.embedded]) + len(sink.topics[NAMES.rejected]) == len(schedule),
            "every input message to be embedded or dead-lettered",
        )
    embedded = list(sink.topics[NAMES.embedded])
    steps = app.steps
    async with agent_named(app, "track_stories").test_context() as track:
        for record in embedded:  # the agent's offsets count from 0, as the topic's
            await track.put(value=record.value, key=record.key, headers=record.headers, wait=False)
        await wait_for(lambda: steps.tracking.position == len(embedded) - 1, "the tracker to read its input")
    # The input has ended: once the partitions are idle, the reorder buffer lets the rest go.
    clock.advance(SETTINGS.tracker.reorder_idle_seconds + 1)
    await steps.tracking.release_idle()
    return sink, app


def latest_by_key(sink: MemorySink, topic: str) -> dict[str, dict[str, Any]]:
    return {record.key.decode(): json.loads(record.value) for record in sink.topics[topic] if record.key}


def dead_letters(rejections: list[dict[str, Any]]) -> Counter[tuple[str, str | None]]:
    return Counter((rejection["reason"], rejection["article_id"]) for rejection in rejections)


@pytest.fixture(scope="module")
def sample_bytes(sample_path: Path) -> list[bytes]:
    return [line for line in sample_path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def offline(sample_path: Path) -> OfflineResult:
    return run_offline(
        read_messages(sample_path), SETTINGS, create_embedder(SETTINGS.embedder), progress=False
    )


@pytest.fixture(scope="module")
def merging(tmp_path_factory: pytest.TempPathFactory, sample_path: Path) -> tuple[Settings, OfflineResult]:
    """Settings with a linker file that merges stories (it follows the rule's score: every other candidate
    the rule would also join merges), and the offline run under them."""
    path = tmp_path_factory.mktemp("linker") / "linker.json"
    tracker = SETTINGS.tracker.model_copy(update={"linker": str(path), "merge_probability": 0.5})
    settings = SETTINGS.model_copy(update={"tracker": tracker})
    linker = StoryLinker(
        weights=tuple(20.0 if name == "rule_score" else 0.0 for name in FEATURES),
        bias=0.0,
        mean=(0.0,) * len(FEATURES),
        scale=(1.0,) * len(FEATURES),
        threshold=0.5,
        trained_with=configuration_of(settings, Calibration.declared(settings.embedder)),
    )
    path.write_text(linker.to_json(), encoding="utf-8")
    result = run_offline(
        read_messages(sample_path), settings, create_embedder(settings.embedder), progress=False
    )
    return settings, result


def assert_worker_gives(sink: MemorySink, offline: OfflineResult) -> None:
    assignments = latest_by_key(sink, NAMES.assignments)
    assert {article: record["story_id"] for article, record in assignments.items()} == dict(
        offline.assignments
    )
    stories = latest_by_key(sink, NAMES.stories)
    assert stories == {
        key: json.loads(snapshot.model_dump_json()) for key, snapshot in offline.snapshots.items()
    }
    alerts = [json.loads(value) for value in sink.values(NAMES.alerts)]
    assert alerts == [json.loads(alert.model_dump_json()) for alert in offline.alerts]


def test_story_merges_through_the_agents_give_the_offline_result(
    sample_bytes: list[bytes], merging: tuple[Settings, OfflineResult]
) -> None:
    settings, offline = merging
    merged = [snapshot for snapshot in offline.snapshots.values() if snapshot.merged_into]
    assert merged, "the merging linker must merge stories of the sample for this test to mean anything"
    sink, _ = asyncio.run(run_worker(sample_bytes, 3, settings))
    assert_worker_gives(sink, offline)


@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_partitions_through_the_agents_give_the_offline_result(
    sample_bytes: list[bytes], offline: OfflineResult, seed: int
) -> None:
    sink, app = asyncio.run(run_worker(sample_bytes, seed))
    assert_worker_gives(sink, offline)
    assert offline.alerts, "the sample has emerging stories: the comparison must cover alerts"
    rejected = [json.loads(value) for value in sink.values(NAMES.rejected)]
    assert dead_letters(rejected) == dead_letters(
        [json.loads(r.model_dump_json()) for r in offline.rejections]
    )
    # The tracker checkpointed on the way, after flushing what it had sent.
    assert sink.topics[NAMES.checkpoints] and sink.flushes >= len(sink.topics[NAMES.checkpoints])
    assert app.steps.tracking.late_count == 0


def test_the_interleaving_really_differs_between_seeds(sample_bytes: list[bytes]) -> None:
    # Otherwise the test above would prove nothing about reordering.
    first, _ = asyncio.run(run_worker(sample_bytes, 1))
    second, _ = asyncio.run(run_worker(sample_bytes, 2))
    first_order, second_order = (
        [json.loads(value)["id"] for value in sink.values(NAMES.embedded)] for sink in (first, second)
    )
    assert first_order != second_order
    assert sorted(first_order) == sorted(second_order)
