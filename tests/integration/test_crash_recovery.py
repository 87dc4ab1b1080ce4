"""Crash recovery on the real broker: kill -9 the worker mid-stream, restart it, and end where an
uninterrupted run ends (docs/RELIABILITY.md)."""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Worker
from scenarios import (
    RUN_ENV,
    assert_end_state,
    assigned_ids,
    finish_replay,
    offline_reference,
    replay,
    wait_for_assignments,
    write_stream,
)

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def test_kill_9_twice_mid_stream_ends_like_an_uninterrupted_run(
    pipeline_env: dict[str, str], start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {**pipeline_env, **RUN_ENV}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    stream = tmp_path / "stream.jsonl"
    write_stream(stream)
    reference = offline_reference(stream)
    expected = dict(reference.assignments)

    rng = random.Random(20261125)
    worker = start_worker(env)
    producer = replay(env, stream)
    for crash in range(int(os.environ.get("CRASH_TEST_CRASHES", "2"))):
        # A random point while articles are flowing: after some assignments, before all of them.
        target = int(len(expected) * rng.uniform(0.15, 0.35) * (crash + 1))
        wait_for_assignments(bootstrap, prefix, target, f"before crash {crash + 1}")
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)
        assert len(assigned_ids(bootstrap, prefix)) < len(expected), "the crash must hit mid-stream"
        worker = start_worker(env)
    finish_replay(producer)

    wait_for_assignments(bootstrap, prefix, len(expected), "in all")
    logs = "".join(path.read_text(errors="replace") for path in sorted(tmp_path.glob("worker-*.log")))
    assert logs.count("tracker restored from checkpoint") >= 1, logs[-3000:]
    assert_end_state(env, reference, logs)
