"""Fixtures that start real things: the local Apache Kafka broker (deploy/kafka/kafka.sh) and workers.

The broker is started once per test session on free loopback ports and stopped at the end, so
``pytest`` (and ``make test``) needs nothing running beforehand.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import (
    KAFKA_SH,
    ROOT,
    Broker,
    Worker,
    free_port,
    free_port_pair,
    pipeline_environment,
    wait_until,
)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real single-node KRaft broker for the whole session."""
    port = free_port_pair()
    run_dir = tmp_path_factory.mktemp("kafka")
    subprocess.run([str(KAFKA_SH), "start", "--port", str(port), "--dir", str(run_dir)], check=True, cwd=ROOT)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(KAFKA_SH), "stop", "--dir", str(run_dir)], check=False, cwd=ROOT)


@pytest.fixture
def pipeline_env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    """Environment for one isolated pipeline: its own topic prefix and consumer group."""
    return pipeline_environment(kafka_bootstrap, tmp_path / "worker-data")


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own, started on free ports: the test may stop and restart it
    (``Broker.stop``, ``Broker.start(keep=True)``) without disturbing the session's broker."""
    broker = Broker(free_port_pair(), tmp_path / "own-kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Worker]]:
    """Start ``python -m streams worker`` as a separate process; wait until it reports ready."""
    workers: list[Worker] = []

    def start(env: dict[str, str]) -> Worker:
        web_port = free_port()
        log_path = tmp_path / f"worker-{len(workers)}.log"
        handle = log_path.open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker", "--web-port", str(web_port)],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
        worker = Worker(process, log_path, env, web_port)
        workers.append(worker)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()[-4000:]}")
            return "Worker ready" in worker.log()

        wait_until(ready, timeout=120, what="the worker to be ready")
        return worker

    yield start
    for worker in workers:
        worker.stop()
