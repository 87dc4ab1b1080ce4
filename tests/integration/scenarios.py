"""Shared pieces of the failure scenarios (crash, broker restart, scale-out, soak): a real-looking stream,
reading topics back, replaying, and the end-state comparison with the offline run (docs/RELIABILITY.md)."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from harness import ROOT, Worker, wait_until
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient

from streams.core.embedding import create_embedder
from streams.files import read_messages
from streams.offline import OfflineResult, run_offline
from streams.settings import Settings

SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"
COPIES = 8  # the sample's ~290 articles, eight times over, three days apart: ~2,300 articles
# Copies three days apart: the sample spans two days, so every story of one copy has closed (24 h window)
# before the next copy starts, and the tracker's state stays the size of one copy's stories.
COPY_SPACING = timedelta(days=3)
# Settings shared by the live runs and the offline reference: the fast hashing embedder and frequent
# checkpoints. The reorder idle timeout (the one wall-clock input of the tracker: an input partition silent
# for that long stops holding back event time) is longer than any pause the scenarios cause (a restart, a
# broker restart, a session timeout plus a rebalance), so a pause never lets later articles overtake a
# stalled partition's, and the live order stays the offline run's canonical order.
RUN_ENV = {
    "STREAMS_EMBEDDER__BACKEND": "hashing",
    "STREAMS_WORKER__CHECKPOINT_EVERY": "150",
    "STREAMS_WORKER__SESSION_TIMEOUT_SECONDS": "8",
    "STREAMS_TRACKER__REORDER_IDLE_SECONDS": "20",
}
# Event seconds per wall second of the scenarios' replays: the ~24 days of the default stream arrive over
# ~40 s, so failures injected after some assignments land mid-stream.
REPLAY_SPEED = 50_000.0


def write_stream(path: Path, copies: Iterable[int] = range(COPIES)) -> int:
    """Copies of the sample shifted in time with fresh ids (malformed lines kept): real-looking volume.

    ``copies`` picks which copies (copy k is shifted by k * COPY_SPACING), so a stream can be written in
    parts that together are the whole. Returns the number of well-formed articles written."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    valid = 0
    with path.open("w", encoding="utf-8") as out:
        for copy in copies:
            for line in lines:
                try:
                    record: Any = json.loads(line)
                    published = datetime.fromisoformat(record["published_at"])
                    record["id"] = f"{record['id']}~{copy}"
                    record["published_at"] = (published + COPY_SPACING * copy).isoformat()
                except (ValueError, TypeError, KeyError):
                    out.write(line + "\n")  # the bad lines stay bad
                    continue
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                valid += 1
    return valid


def offline_reference(path: Path) -> OfflineResult:
    """The uninterrupted run: the Detector in-process over ``path`` with the live runs' settings."""
    settings = Settings.model_validate(
        {
            "embedder": {"backend": "hashing"},
            "tracker": {"reorder_idle_seconds": float(RUN_ENV["STREAMS_TRACKER__REORDER_IDLE_SECONDS"])},
        }
    )
    return run_offline(read_messages(path), settings, create_embedder(settings.embedder), progress=False)


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


def replay(env: dict[str, str], path: Path, speed: float = REPLAY_SPEED) -> subprocess.Popen[bytes]:
    """``python -m streams replay`` of ``path`` in the background (``speed`` event seconds per second)."""
    return subprocess.Popen(
        [sys.executable, "-m", "streams", "replay", str(path), "--speed", str(speed), "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish_replay(producer: subprocess.Popen[bytes], timeout: float = 300) -> None:
    """Wait for a ``replay`` process; fail with its error output unless it sent everything."""
    code = producer.wait(timeout=timeout)
    assert code == 0, producer.stderr.read().decode(errors="replace") if producer.stderr else code


def wait_for_assignments(bootstrap: str, prefix: str, count: int, what: str, timeout: float = 300) -> None:
    """Until the assignments topic holds at least ``count`` records."""
    wait_until(
        lambda: len(read_all(bootstrap, f"{prefix}.assignments")) >= count,
        timeout=timeout,
        what=f"{count} assignments {what}",
        interval=0.5,
    )


def assigned_ids(bootstrap: str, prefix: str) -> set[str]:
    return {record["id"] for record in read_all(bootstrap, f"{prefix}.assignments")}


def consumer_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """End offset minus the group's committed offset, per partition of ``topics`` (no commit: all of it)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        # Committed offsets before end offsets: a lag of zero then means nothing was waiting at the time of
        # the first reading, nor arrived before the second.
        committed = admin.list_group_offsets({group: partitions}).get(group, {})
        ends = consumer.end_offsets(partitions)
        lag: dict[tuple[str, int], int] = {}
        for tp in partitions:
            position = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0
            lag[(tp.topic, tp.partition)] = ends[tp] - position
        return lag
    finally:
        consumer.close()
        admin.close()


def assert_end_state(env: dict[str, str], reference: OfflineResult, logs: str = "") -> None:
    """The live run ended where the uninterrupted (offline) run ends: every accepted article's latest
    assignment, the set of alert ids, each alert shown once by ``python -m streams alerts``, and every
    story's final snapshot. ``logs`` (the workers') are printed with a mismatch."""
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    expected = dict(reference.assignments)
    wait_until(
        lambda: assigned_ids(bootstrap, prefix) >= set(expected),
        timeout=300,
        what="every accepted article's assignment",
        interval=1,
    )
    # The latest assignment per article id, which is what the compacted topic keeps.
    got = {record["id"]: record["story_id"] for record in read_all(bootstrap, f"{prefix}.assignments")}
    wrong = sorted((i, expected[i], got.get(i)) for i in expected if got.get(i) != expected[i])
    assert not wrong, f"{len(wrong)} of {len(expected)} assignments differ, e.g. {wrong[:5]}\n{logs[-4000:]}"
    assert set(got) == set(expected), f"assignments for unknown ids: {sorted(set(got) - set(expected))[:5]}"

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
    history = read_all(bootstrap, f"{prefix}.stories")
    stories = last_by_key(history, "story_id")
    assert set(stories) == set(final)
    for story_id, snapshot in final.items():
        trail = [(r["article_count"], r["status"]) for r in history if r["story_id"] == story_id]
        assert stories[story_id]["article_count"] == snapshot.article_count, (story_id, trail, logs[-6000:])
        assert stories[story_id]["article_ids"] == snapshot.article_ids, story_id


Assignment = dict[str, set[int]]  # topic -> partitions of one group member


def group_members(bootstrap: str, group: str) -> list[Assignment]:
    """What the group coordinator says each member of ``group`` is assigned (empty while rebalancing)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        description: dict[str, Any] = admin.describe_groups([group])[group]
    finally:
        admin.close()
    if description.get("group_state") != "Stable":
        return []
    members: list[Assignment] = []
    for member in description.get("members", []):
        assigned: Assignment = {}
        for entry in _assigned_partitions(member.get("member_assignment")):
            assigned.setdefault(entry["topic"], set()).update(entry["partitions"])
        members.append(assigned)
    return members


def _assigned_partitions(assignment: Any) -> list[dict[str, Any]]:
    # kafka-python decodes the consumer protocol's assignment; to_dict() leaves it a dict or an object.
    if assignment is None:
        return []
    if isinstance(assignment, dict):
        return list(assignment.get("assigned_partitions", []))
    return [{"topic": tp.topic, "partitions": tp.partitions} for tp in assignment.assigned_partitions]


def metric(worker: Worker, name: str) -> float:
    """Sum of the samples (all labels) of the metric ``name`` (a gauge, or a counter's ``_total``) on the
    worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.web_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(f"{name}{{") or line.startswith(f"{name} ")
    )


def counter(worker: Worker, name: str) -> float:
    """Sum of a counter's samples (all labels) on the worker's /metrics."""
    return metric(worker, f"{name}_total")


def wait_until_idle(worker: Worker, timeout: float = 120) -> None:
    """Until the worker has done all the work its input holds: its group committed every input message
    of both stages (faust flushes the outputs before it commits) and its reorder buffer holds nothing.
    Then stopping it (``Worker.stop`` flushes the rest) leaves every output topic final."""
    env = worker.env
    bootstrap, prefix = env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"], env["STREAMS_KAFKA__TOPIC_PREFIX"]
    topics = (f"{prefix}.articles", f"{prefix}.articles.embedded")

    def idle() -> bool:
        if worker.process.poll() is not None:
            raise AssertionError(
                f"the worker exited with {worker.process.returncode}:\n{worker.log()[-4000:]}"
            )
        lag = consumer_lag(bootstrap, env["STREAMS_WORKER__APP_ID"], topics)
        return not any(lag.values()) and metric(worker, "streams_reorder_buffer_articles") == 0

    wait_until(
        idle, timeout=timeout, what="the worker to be idle (no lag, empty reorder buffer)", interval=0.5
    )
