"""Helpers for the integration tests: ports, waiting on conditions, brokers and worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# The bench starts brokers and workers on free loopback ports the same way (re-exported for the tests).
from streams.tools.loopback import free_port, free_port_pair

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"

__all__ = [
    "KAFKA_SH",
    "ROOT",
    "Broker",
    "Worker",
    "free_port",
    "free_port_pair",
    "pipeline_environment",
    "streams_cli",
    "wait_until",
]


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def streams_cli(
    env: dict[str, str], *args: str, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m streams ARGS`` in a process of its own, as a person runs it; its output as text."""
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        check=check,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pipeline_environment(bootstrap: str, data_dir: Path) -> dict[str, str]:
    """Environment for one isolated pipeline: its own topic prefix and consumer group."""
    name = f"it-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")}
    env.update(
        {
            "STREAMS_KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            "STREAMS_KAFKA__TOPIC_PREFIX": name,
            "STREAMS_WORKER__APP_ID": name,
            "STREAMS_WORKER__DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Broker:
    """A local broker of one test's own (deploy/kafka/kafka.sh), which the test may stop and restart."""

    port: int
    run_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, keep: bool = False) -> None:
        """Start on ``port``; ``keep``: on the storage of the previous start (a restart, data kept)."""
        command = [str(KAFKA_SH), "start", "--port", str(self.port), "--dir", str(self.run_dir)]
        subprocess.run([*command, "--keep"] if keep else command, check=True, cwd=ROOT, timeout=180)

    def stop(self) -> None:
        """Stop gracefully and wait until the process is gone."""
        subprocess.run([str(KAFKA_SH), "stop", "--dir", str(self.run_dir)], check=False, cwd=ROOT, timeout=60)


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    web_port: int

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
