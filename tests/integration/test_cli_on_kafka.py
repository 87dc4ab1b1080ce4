"""Commands against the real broker: ``topics`` creates the documented topology (partitions, compaction,
retention, message size) and ``alerts --follow`` keeps printing alerts as they arrive."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import pytest
from harness import ROOT
from kafka import KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from streams.kafka.topics import ensure_topics
from streams.records import Alert, Score, ScoreComponents
from streams.settings import KafkaSettings

pytestmark = pytest.mark.integration

# README ("How it works", "Scaling") and docs/RELIABILITY.md: N input partitions (4 by default), one
# partition for everything the tracker reads or writes; assignments, stories and checkpoints compacted
# (keyed by article id, story id, one checkpoint key), the rest kept forever.
DOCUMENTED: dict[str, tuple[int, str]] = {
    "articles": (4, "delete"),
    "articles.embedded": (1, "delete"),
    "assignments": (1, "compact"),
    "stories": (1, "compact"),
    "alerts": (1, "delete"),
    "articles.rejected": (1, "delete"),
    "tracker.checkpoints": (1, "compact"),
}
# STREAMS_KAFKA__MAX_MESSAGE_BYTES (25 MiB) plus 1 MiB for the record envelope, on every topic.
MESSAGE_BYTES = str(26 * 1024 * 1024)


def clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


def streams(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        cwd=ROOT,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def topic_layout(bootstrap: str, prefix: str) -> dict[str, dict[str, Any]]:
    """Per topic of ``prefix`` (name without it): partitions and the configs the broker reports."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        topics = sorted(name for name in admin.list_topics() if name.startswith(f"{prefix}."))
        partitions = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(topics)}
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics], config_filter="all"
        )
    finally:
        admin.close()
    configs = described["topic"]
    return {
        name.removeprefix(f"{prefix}."): {
            "partitions": partitions[name],
            **{
                key: configs[name][key]["value"]
                for key in ("cleanup.policy", "retention.ms", "max.message.bytes")
            },
        }
        for name in topics
    }


def test_topics_creates_the_documented_partitions_and_cleanup_policies(kafka_bootstrap: str) -> None:
    prefix = f"cfg-{uuid.uuid4().hex[:8]}"
    created = streams("topics", "--bootstrap-servers", kafka_bootstrap, "--prefix", prefix)
    assert created.returncode == 0, created.stderr[-3000:]
    assert f"{prefix}.tracker.checkpoints" in created.stderr

    layout = topic_layout(kafka_bootstrap, prefix)
    assert {name: (t["partitions"], t["cleanup.policy"]) for name, t in layout.items()} == DOCUMENTED
    assert all(t["max.message.bytes"] == MESSAGE_BYTES for t in layout.values()), layout
    # Kept forever: input, embedded, alerts and dead letters are history that replays re-run.
    kept = {name for name, t in layout.items() if t["retention.ms"] == "-1"}
    assert kept >= {"articles", "articles.embedded", "alerts", "articles.rejected"}, layout

    # Run again: nothing to create, nothing changed.
    again = streams("topics", "--bootstrap-servers", kafka_bootstrap, "--prefix", prefix)
    assert again.returncode == 0 and "all topics exist" in again.stderr, again.stderr[-3000:]
    assert topic_layout(kafka_bootstrap, prefix) == layout


def test_topics_takes_the_input_partition_count_from_the_settings(kafka_bootstrap: str) -> None:
    prefix = f"cfg-{uuid.uuid4().hex[:8]}"
    env = clean_env(STREAMS_KAFKA__ARTICLES_PARTITIONS="6")
    created = streams("topics", "--bootstrap-servers", kafka_bootstrap, "--prefix", prefix, env=env)
    assert created.returncode == 0, created.stderr[-3000:]
    layout = topic_layout(kafka_bootstrap, prefix)
    assert layout["articles"]["partitions"] == 6
    assert all(t["partitions"] == 1 for name, t in layout.items() if name != "articles")


def alert(alert_id: str, headline: str, at: datetime) -> Alert:
    return Alert(
        alert_id=alert_id,
        type="emerging",
        story_id=f"s-{alert_id}",
        at=at,
        headline=headline,
        keywords=["زلزله", "کرمان"],
        article_ids=["a/1", "a/2", "a/3"],
        sources=["one", "two"],
        article_count=3,
        first_seen=at - timedelta(hours=1),
        score=Score(
            value=0.8,
            components=ScoreComponents(
                window_articles=3, window_sources=2, rate_per_hour=3.0, age_minutes=60
            ),
        ),
    )


def send_alerts(bootstrap: str, topic: str, alerts: list[Alert]) -> None:
    client = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = [
            client.send(topic, value=a.model_dump_json().encode(), key=a.alert_id.encode()) for a in alerts
        ]
        client.flush()
        for future in futures:
            future.get(timeout=30)
    finally:
        client.close()


def line_reader(stream: IO[str]) -> queue.Queue[str]:
    """The lines of ``stream`` as they come, read by a thread (so a test can wait on one with a timeout)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_line(lines: queue.Queue[str], timeout: float, what: str, process: subprocess.Popen[str]) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(
            f"no {what} on stdout within {timeout:.0f}s (alive: {process.poll() is None})"
        ) from None


def test_alerts_follow_prints_alerts_produced_after_it_started(kafka_bootstrap: str) -> None:
    prefix = f"follow-{uuid.uuid4().hex[:8]}"
    ensure_topics(KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=prefix))
    topic = f"{prefix}.alerts"
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    send_alerts(kafka_bootstrap, topic, [alert("a-old", "earlier news", at)])

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams",
            "alerts",
            "--follow",
            "--json",
            "--bootstrap-servers",
            kafka_bootstrap,
            "--prefix",
            prefix,
        ],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = line_reader(process.stdout)
        # History first: once the earlier alert is printed the consumer is assigned and polling.
        first = Alert.model_validate_json(next_line(lines, 60, "earlier alert", process))
        assert first.alert_id == "a-old"

        # Then, while it follows: a new alert, a re-delivery of the earlier one (at-least-once), another.
        send_alerts(
            kafka_bootstrap,
            topic,
            [
                alert("a-new", "زلزله در کرمان", at + timedelta(hours=1)),
                alert("a-old", "earlier news", at),
                alert("a-newer", "later news", at + timedelta(hours=2)),
            ],
        )
        second = Alert.model_validate_json(next_line(lines, 30, "alert produced after the start", process))
        third = Alert.model_validate_json(next_line(lines, 30, "second new alert", process))
        assert (second.alert_id, second.headline) == ("a-new", "زلزله در کرمان")
        assert third.alert_id == "a-newer"  # the re-delivered a-old is not shown twice
        assert process.poll() is None, "alerts --follow must keep running"
    finally:
        # Ctrl-C, as its help says, stops it.
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise
    stderr = process.stderr.read() if process.stderr else ""
    assert code == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
