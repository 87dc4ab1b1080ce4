"""Crash recovery on the real broker: kill -9 the worker mid-stream, restart it, and end where an
uninterrupted run ends (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT, Worker, wait_until
from kafka import KafkaConsumer, TopicPartition

from streams.embedding import create_embedder
from streams.offline import OfflineResult, run_offline
from streams.settings import Settings
from streams.sources import read_messages

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"
COPIES = 8  # the sample's ~290 articles, eight times over, three days apart: ~2,300 articles
# Settings of both runs: the fast hashing embedder, frequent checkpoints, and a reorder idle timeout
# longer than a restart (the one wall-clock input: a partition silent for longer stops holding back time).
RUN_ENV = {
    "STREAMS_EMBEDDER__BACKEND": "hashing",
    "STREAMS_WORKER__CHECKPOINT_EVERY": "150",
    "STREAMS_WORKER__SESSION_TIMEOUT_SECONDS": "8",
    "STREAMS_TRACKER__REORDER_IDLE_SECONDS": "20",
}


def write_stream(path: Path) -> int:
    """Copies of the sample shifted in time with fresh ids (malformed lines kept): real-looking volume."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    valid = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in range(COPIES):
            for line in lines:
                try:
                    record: Any = json.loads(line)
                    published = datetime.fromisoformat(record["published_at"])
                    record["id"] = f"{record['id']}~{copy}"
                    record["published_at"] = (published + timedelta(days=3 * copy)).isoformat()
                except (ValueError, TypeError, KeyError):
                    out.write(line + "\n")  # the bad lines stay bad
                    continue
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                valid += 1
    return valid


def read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` (one partition) up to its end now."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    try:
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        records: list[dict[str, Any]] = []
        while consumer.position(partition) < end:
            for batch in consumer.poll(timeout_ms=500).values():
                records += [json.loads(record.value) for record in batch]
        return records
    finally:
        consumer.close()


def last_by_key(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[record[key]] = record
    return latest


def replay(env: dict[str, str], path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        # 50,000x event time: the ~24 days of the stream arrive over ~40 s, so the crashes land mid-stream.
        [sys.executable, "-m", "streams", "replay", str(path), "--speed", "50000", "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_kill_9_twice_mid_stream_ends_like_an_uninterrupted_run(
    pipeline_env: dict[str, str], start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {**pipeline_env, **RUN_ENV}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    stream = tmp_path / "stream.jsonl"
    write_stream(stream)
    settings = Settings.model_validate(
        {"embedder": {"backend": "hashing"}, "tracker": {"reorder_idle_seconds": 20}}
    )
    reference: OfflineResult = run_offline(
        read_messages(stream), settings, create_embedder(settings.embedder), progress=False
    )
    expected = dict(reference.assignments)

    rng = random.Random(20261125)
    assignments_topic = f"{prefix}.assignments"
    worker = start_worker(env)
    producer = replay(env, stream)
    for crash in range(int(os.environ.get("CRASH_TEST_CRASHES", "2"))):
        # A random point while articles are flowing: after some assignments, before all of them.
        target = int(len(expected) * rng.uniform(0.15, 0.35) * (crash + 1))
        wait_until(
            lambda target=target: len(read_all(bootstrap, assignments_topic)) >= target,  # type: ignore[misc]
            timeout=300,
            what=f"{target} assignments before crash {crash + 1}",
            interval=0.5,
        )
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
        assigned = {record["id"] for record in read_all(bootstrap, assignments_topic)}
        assert len(assigned) < len(expected), "the crash must hit mid-stream"
        worker = start_worker(env)
    assert producer.wait(timeout=300) == 0, producer.stderr.read() if producer.stderr else ""

    wait_until(
        lambda: {record["id"] for record in read_all(bootstrap, assignments_topic)} >= set(expected),
        timeout=300,
        what="every accepted article's assignment",
        interval=1,
    )
    # The latest assignment per article id, which is what the compacted topic keeps.
    got = {record["id"]: record["story_id"] for record in read_all(bootstrap, assignments_topic)}
    wrong = sorted((i, expected[i], got.get(i)) for i in expected if got.get(i) != expected[i])
    assert not wrong, f"{len(wrong)} of {len(expected)} assignments differ, e.g. {wrong[:5]}"
    logs = "".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("worker-*.log")))
    assert logs.count("tracker restored from checkpoint") >= 1, logs[-3000:]

    expected_alerts = {alert.alert_id for alert in reference.alerts}
    wait_until(
        lambda: {a["alert_id"] for a in read_all(bootstrap, f"{prefix}.alerts")} >= expected_alerts,
        timeout=120,
        what="every alert",
    )
    assert {alert["alert_id"] for alert in read_all(bootstrap, f"{prefix}.alerts")} == expected_alerts
    # Delivery is at-least-once; the consumer the project ships shows each alert id once.
    shown = subprocess.run(
        [sys.executable, "-m", "streams", "alerts", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    shown_ids = [json.loads(line)["alert_id"] for line in shown.stdout.splitlines() if line.strip()]
    assert sorted(shown_ids) == sorted(expected_alerts)

    final = reference.snapshots
    wait_until(
        lambda: set(last_by_key(read_all(bootstrap, f"{prefix}.stories"), "story_id")) >= set(final),
        timeout=120,
        what="every story's snapshot",
    )
    stories = last_by_key(read_all(bootstrap, f"{prefix}.stories"), "story_id")
    assert set(stories) == set(final)
    history = read_all(bootstrap, f"{prefix}.stories")
    for story_id, snapshot in final.items():
        trail = [(r["article_count"], r["status"]) for r in history if r["story_id"] == story_id]
        assert stories[story_id]["article_count"] == snapshot.article_count, (story_id, trail, logs[-6000:])
        assert stories[story_id]["article_ids"] == snapshot.article_ids, story_id
