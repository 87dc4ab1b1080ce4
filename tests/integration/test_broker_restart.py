"""Broker restart on the real broker: stop the worker's broker mid-stream and start it again; the same
worker process reconnects by itself and ends where an uninterrupted run ends (docs/RELIABILITY.md)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Broker, Worker, pipeline_environment
from scenarios import (
    COPIES,
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

FIRST_PART = 3  # copies replayed before the broker restart (one, then two more); the other five after it
# Part one arrives as fast as the producer can send it, so the worker still has a backlog to work through
# (and outputs in flight) when its broker goes away.
AT_ONCE = 1e9
# The reorder idle timeout must outlast every pause (see scenarios.RUN_ENV): here the pause is a broker
# stop, a cold broker start and the clients' reconnection, about 12 s measured on a loaded 2-core machine:
# too close to the crash test's 20 s. Were the pause longer, every input partition would count as idle, the
# buffer would release all it holds, and the backlog's older articles would then be tracked late (out of
# order): a live run may do that, but then it no longer equals the offline run.
IDLE_SECONDS = "60"


def test_the_worker_reconnects_after_a_broker_restart_and_ends_like_an_uninterrupted_run(
    own_broker: Broker, start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {
        **pipeline_environment(own_broker.bootstrap, tmp_path / "worker-data"),
        **RUN_ENV,
        "STREAMS_TRACKER__REORDER_IDLE_SECONDS": IDLE_SECONDS,
    }
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    whole, head, rest, after = (
        tmp_path / name for name in ("stream.jsonl", "head.jsonl", "rest.jsonl", "after.jsonl")
    )
    write_stream(whole)
    # Copies are three days apart, so the parts do not overlap in event time: replayed one after the
    # other they are the whole stream in the order a single replay sends it.
    first_copy = write_stream(head, range(1))
    write_stream(rest, range(1, FIRST_PART))
    write_stream(after, range(FIRST_PART, COPIES))
    reference = offline_reference(whole)

    worker = start_worker(env)
    finish_replay(replay(env, head, speed=AT_ONCE))
    wait_for_assignments(bootstrap, prefix, first_copy // 3, "before the broker stops")
    # The stop must hit mid-stream. Rather than racing the worker, freeze it (SIGSTOP) and give it the rest
    # of part one while it cannot consume: when the broker stops it is certain to hold a backlog, and it
    # resumes (SIGCONT) to find its broker gone.
    worker.process.send_signal(signal.SIGSTOP)
    try:
        finish_replay(replay(env, rest, speed=AT_ONCE))
        tracked = len(assigned_ids(bootstrap, prefix))
        assert tracked <= first_copy, "a frozen worker cannot have tracked the rest of part one"
        own_broker.stop()
    finally:
        worker.process.send_signal(signal.SIGCONT)
    assert worker.process.poll() is None, worker.log()[-4000:]
    own_broker.start(keep=True)

    finish_replay(replay(env, after))
    assert_end_state(env, reference, worker.log())
    # One process did it all: it neither exited nor was restarted.
    assert worker.process.poll() is None, worker.log()[-4000:]
    assert worker.log().count("Worker ready") == 1
