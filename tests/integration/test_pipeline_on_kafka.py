"""The whole pipeline on the real broker, the worker as a separate process, compared with ``offline``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from harness import ROOT, Worker, streams_cli
from scenarios import wait_until_idle
from topic_reader import read_records_to_end, read_to_end, read_until

from streams.core.embedding import create_embedder
from streams.files import read_messages
from streams.kafka.input_progress import InputProgress
from streams.offline import OfflineResult, run_offline
from streams.settings import EmbedderSettings, Settings

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"


def sample_stories() -> dict[str, str]:
    stories: dict[str, str] = {}
    for record in sample_records():
        if isinstance(record.get("id"), str):
            stories.setdefault(record["id"], record.get("sample_story", ""))
    return stories


@pytest.fixture(scope="module")
def offline_reference() -> OfflineResult:
    """The in-process run with the default (production) configuration: the committed event encoder."""
    settings = Settings(embedder=EmbedderSettings(backend="onnx"))
    return run_offline(read_messages(SAMPLE), settings, create_embedder(settings.embedder), progress=False)


def test_sample_replay_matches_offline_run(
    pipeline_env: dict[str, str],
    start_worker: Callable[[dict[str, str]], Worker],
    offline_reference: OfflineResult,
) -> None:
    env = {**pipeline_env, "STREAMS_EMBEDDER__BACKEND": "onnx"}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    worker = start_worker(env)
    streams_cli(env, "replay", str(SAMPLE), "--max-rate", "--no-progress", check=True)

    expected = dict(offline_reference.assignments)
    read_until(bootstrap, f"{prefix}.assignments", len(expected), timeout=300)
    # Everything handled: then, with the worker stopped, every output topic is final (no extra record
    # can come later).
    wait_until_idle(worker)
    worker.stop()
    assignments = read_to_end(bootstrap, f"{prefix}.assignments")
    assert {record["id"]: record["story_id"] for record in assignments} == expected, worker.log()[-3000:]
    assert len(assignments) == len(expected), "an article was assigned twice"

    rejected = read_to_end(bootstrap, f"{prefix}.articles.rejected")
    assert Counter(record["reason"] for record in rejected) == Counter(
        rejection.reason.value for rejection in offline_reference.rejections
    )
    assert all(record["message"] and "raw" in record for record in rejected)

    alerts = read_to_end(bootstrap, f"{prefix}.alerts")
    assert [alert["alert_id"] for alert in alerts] == [alert.alert_id for alert in offline_reference.alerts]
    # The alerts are about the sample's bursts, not its noise.
    truth = sample_stories()
    for alert in alerts:
        majority, votes = Counter(truth[i] for i in alert["article_ids"]).most_common(1)[0]
        assert not majority.startswith("noise"), alert["headline"]
        assert votes * 2 > len(alert["article_ids"])

    feed = streams_cli(env, "alerts", check=True)
    for alert in alerts:
        assert alert["alert_id"] in feed.stdout

    # The embedding stage told the tracker which input partitions it had read to the end (what lets an
    # article go without waiting for the next message on every partition), and by the last batch all of them.
    reports = [
        progress
        for record in read_records_to_end(bootstrap, f"{prefix}.articles.embedded")
        if (progress := InputProgress.from_headers(dict(record.headers))) is not None
    ]
    assert reports, "no embedded record carried the drained partitions"
    assert reports[-1].partitions == (0, 1, 2, 3)


def test_time_range_of_input_topic_replays_into_a_fresh_prefix(pipeline_env: dict[str, str]) -> None:
    env = pipeline_env
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    streams_cli(env, "replay", str(SAMPLE), "--max-rate", "--no-progress", check=True)
    since, until = "2026-03-02T12:00:00+03:30", "2026-03-03T00:00:00+03:30"
    rerun = {**env, "STREAMS_KAFKA__TOPIC_PREFIX": f"{prefix}-rerun"}
    streams_cli(
        rerun,
        "replay",
        "--from-prefix",
        prefix,
        "--since",
        since,
        "--until",
        until,
        "--no-progress",
        check=True,
    )

    start, end = datetime.fromisoformat(since), datetime.fromisoformat(until)
    expected = sorted(record["id"] for record in sample_records() if start <= published_at(record) < end)
    # The replay command has flushed and exited: the rerun's input topic is final.
    copied = read_to_end(bootstrap, f"{prefix}-rerun.articles")
    readable = [record for record in copied if published_at(record) != NEVER]
    assert sorted(record["id"] for record in readable) == expected
    # Unreadable messages travel with the range they were sent in (the worker rejects them there).
    assert len(copied) > len(readable)


NEVER = datetime.min.replace(tzinfo=UTC)


def sample_records() -> list[dict[str, Any]]:
    records = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def published_at(record: dict[str, Any]) -> datetime:
    """The record's valid, offset-carrying published_at, or NEVER."""
    value = record.get("published_at")
    if not isinstance(value, str) or not isinstance(record.get("id"), str):
        return NEVER
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return NEVER
    return parsed if parsed.tzinfo is not None else NEVER
