"""Scale-out and rebalance on the real broker: two worker processes in one consumer group share the
stateless stage while exactly one owns the story tracker, and end like the single-worker (offline) run;
kill -9 the tracker's owner mid-stream and the other takes over its partitions and the tracker, and the end
state still holds (docs/RELIABILITY.md)."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Worker, wait_until
from scenarios import (
    COPIES,
    RUN_ENV,
    assert_end_state,
    assigned_ids,
    counter,
    finish_replay,
    group_members,
    offline_reference,
    replay,
    wait_for_assignments,
    write_stream,
)

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

FIRST_PART = 4  # copies replayed with both workers up; the other four around the kill


def test_two_workers_share_the_stream_and_one_takes_over_when_the_other_dies(
    pipeline_env: dict[str, str], start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {**pipeline_env, **RUN_ENV}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    group, articles, embedded = (
        env["STREAMS_WORKER__APP_ID"],
        f"{prefix}.articles",
        f"{prefix}.articles.embedded",
    )
    whole, before, after = (tmp_path / name for name in ("stream.jsonl", "before.jsonl", "after.jsonl"))
    write_stream(whole)
    # Copies are three days apart: part one is a prefix of the whole stream in event time, so its offline
    # run is the whole run's state when part one is done.
    write_stream(before, range(FIRST_PART))
    write_stream(after, range(FIRST_PART, COPIES))
    reference_before, reference = offline_reference(before), offline_reference(whole)

    # One consumer group (the same app id), each process with its own data directory and web port.
    workers = [
        start_worker({**env, "STREAMS_WORKER__DATA_DIR": str(tmp_path / f"data-{i}")}) for i in range(2)
    ]

    def shared() -> bool:
        members = group_members(bootstrap, group)
        return (
            len(members) == 2
            and all(member.get(articles) for member in members)
            and set().union(*(member.get(articles, set()) for member in members)) == {0, 1, 2, 3}
            and sorted(len(member.get(embedded, ())) for member in members) == [0, 1]
        )

    wait_until(shared, timeout=120, what="both workers with input partitions, one with the tracker's")

    finish_replay(replay(env, before))

    def logs() -> str:
        return "\n".join(worker.log()[-3000:] for worker in workers)

    assert_end_state(env, reference_before, logs())
    # Both prepared articles; only one tracked them (the tracker's input has one partition).
    assert all(counter(worker, "streams_articles_consumed") > 0 for worker in workers), logs()
    tracked = [counter(worker, "streams_articles_tracked") for worker in workers]
    assert sorted(value > 0 for value in tracked) == [False, True], tracked
    owner, other = (workers[0], workers[1]) if tracked[0] else (workers[1], workers[0])
    assert "no tracker checkpoint" in owner.log() and "tracker checkpoint at input offset" in owner.log()
    assert "tracker checkpoint" not in other.log()

    producer = replay(env, after)
    done_before = len(reference_before.assignments)
    target = done_before + (len(reference.assignments) - done_before) // 3
    wait_for_assignments(bootstrap, prefix, target, "before the kill")
    owner.process.send_signal(signal.SIGKILL)
    owner.process.wait(timeout=30)
    assert len(assigned_ids(bootstrap, prefix)) < len(reference.assignments), "the kill must hit mid-stream"
    finish_replay(producer)

    # The survivor gets every partition after the dead member's session times out, restores the tracker
    # from its newest checkpoint and re-processes what followed it.
    wait_until(
        lambda: (
            group_members(bootstrap, group) == [{articles: {0, 1, 2, 3}, embedded: {0}}]
            or any(
                m.get(embedded) == {0} and m.get(articles) == {0, 1, 2, 3}
                for m in group_members(bootstrap, group)
            )
        ),
        timeout=120,
        what="the surviving worker to own every partition",
    )
    assert_end_state(env, reference, logs())
    assert "tracker restored from checkpoint" in other.log(), other.log()[-3000:]
    assert other.process.poll() is None
