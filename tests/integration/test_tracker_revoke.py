"""The tracker's partition revoked from a live worker and given back, on the real broker.

A second worker joins the group: in the rebalance faust revokes every partition of the first worker (Kafka's
eager protocol), whose tracker drops its state; the assignor then gives the tracker's partition to one of the
two (faust's assignor is sticky: usually the first again), and whichever it is restores the newest checkpoint
before tracking more. The second worker leaves: another rebalance, and the partition is the first worker's
(again), which restores once more. The first worker never stops, and at each step the end state is the
uninterrupted (offline) run's (docs/RELIABILITY.md). ``pytest -s`` says whether the partition moved.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from harness import Worker, wait_until
from scenarios import (
    RUN_ENV,
    assert_end_state,
    counter,
    finish_replay,
    group_members,
    offline_reference,
    replay,
    write_stream,
)

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

# Copies of the sample (three days apart, see scenarios.write_stream): before the second worker joins,
# while both run, after it left.
PARTS = (range(0, 3), range(3, 5), range(5, 7))
DROPPED = "tracker partition revoked: its state is dropped"
RESTORED = "tracker restored from checkpoint"


def test_the_tracker_partition_revoked_from_a_live_worker_and_given_back_ends_like_an_uninterrupted_run(
    pipeline_env: dict[str, str], start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {**pipeline_env, **RUN_ENV}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    group, articles, embedded = (
        env["STREAMS_WORKER__APP_ID"],
        f"{prefix}.articles",
        f"{prefix}.articles.embedded",
    )
    paths = [tmp_path / f"part-{i}.jsonl" for i in range(len(PARTS))]
    for path, copies in zip(paths, PARTS, strict=True):
        write_stream(path, copies)
    # The offline runs of the stream up to the end of each part: what the live run must equal there.
    references = []
    for i in range(len(PARTS)):
        prefix_path = tmp_path / f"upto-{i}.jsonl"
        write_stream(prefix_path, range(PARTS[0].start, PARTS[i].stop))
        references.append(offline_reference(prefix_path))

    first = start_worker({**env, "STREAMS_WORKER__DATA_DIR": str(tmp_path / "data-first")})
    finish_replay(replay(env, paths[0]))
    assert_end_state(env, references[0], first.log())
    assert "tracker checkpoint at input offset" in first.log(), first.log()[-3000:]
    assert DROPPED not in first.log()

    # A second member: the rebalance revokes the first worker's partitions, the tracker's included.
    second = start_worker({**env, "STREAMS_WORKER__DATA_DIR": str(tmp_path / "data-second")})

    def logs() -> str:
        return f"first:\n{first.log()[-3000:]}\nsecond:\n{second.log()[-3000:]}"

    def both_members() -> bool:
        members = group_members(bootstrap, group)
        return (
            len(members) == 2
            and set().union(*(m.get(articles, set()) for m in members)) == {0, 1, 2, 3}
            and sorted(len(m.get(embedded, ())) for m in members) == [0, 1]
        )

    wait_until(both_members, timeout=120, what="both workers in the group, one with the tracker's partition")
    wait_until(lambda: DROPPED in first.log(), timeout=60, what="the first worker to drop its tracker state")
    assert first.process.poll() is None, logs()

    finish_replay(replay(env, paths[1]))
    assert_end_state(env, references[1], logs())
    # Whichever worker the assignor gave the tracker's partition restored the newest checkpoint before
    # tracking the second part: the first worker's state was gone.
    moved = counter(second, "streams_articles_tracked") > 0
    owner = second if moved else first
    assert RESTORED in owner.log(), logs()

    # The second worker leaves: the tracker's partition is (again) the first worker's, which restores.
    restored_before = first.log().count(RESTORED)
    second.stop()

    def first_alone() -> bool:
        members = group_members(bootstrap, group)
        # (Each member is also assigned faust's own assignor topic.)
        return (
            len(members) == 1 and members[0].get(articles) == {0, 1, 2, 3} and members[0].get(embedded) == {0}
        )

    wait_until(first_alone, timeout=120, what="the first worker alone with every partition")
    finish_replay(replay(env, paths[2]))
    assert_end_state(env, references[2], first.log())
    assert first.log().count(RESTORED) > restored_before, first.log()[-3000:]
    # One process did it all (faust logs "Worker ready" after every rebalance, so that is no count of
    # starts: the process object is the one started, and it is still running).
    assert first.process.poll() is None, first.log()[-3000:]
    where = "moved to the second worker and back" if moved else "was given back to the first worker at once"
    print(f"\nrevoke: the tracker's partition {where}")
