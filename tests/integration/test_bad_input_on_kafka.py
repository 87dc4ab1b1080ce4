"""Bad input through the real broker and the worker process: it never crashes or stalls, every bad message
reaches ``<prefix>.articles.rejected`` with its reason, and a re-sent id never counts twice in a story.

The corpus is ``tests/bad_messages.py`` (also run in-process by ``tests/unit/test_bad_input_corpus.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from bad_messages import QUAKE, Case, article, bad_cases, duplicate_cases, good_cases, late_case
from harness import ROOT, Worker
from scenarios import wait_until_idle
from topic_reader import read_to_end, read_until

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def replay(env: dict[str, str], cases: list[Case], path: Path) -> None:
    path.write_bytes(b"".join(case.raw + b"\n" for case in cases))
    subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(path), "--max-rate", "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


def test_the_worker_survives_the_bad_corpus(
    pipeline_env: dict[str, str], start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = {**pipeline_env, "STREAMS_EMBEDDER__BACKEND": "hashing"}
    prefix, bootstrap = env["STREAMS_KAFKA__TOPIC_PREFIX"], env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    worker = start_worker(env)

    first = [*good_cases(), *bad_cases(), *duplicate_cases()]
    replay(env, first, tmp_path / "bad.jsonl")
    # Then, after all of that: an article two days older than everything seen (out of order) and the next
    # day's news. The worker must still be there to assign them.
    after = [
        late_case(),
        *(
            Case(f"next day {i}", article(f"next/{i}", text, 24 * 60 + i, f"s{i}"), None, f"next/{i}")
            for i, text in enumerate(QUAKE)
        ),
    ]
    replay(env, after, tmp_path / "after.jsonl")

    accepted = [case.article_id for case in [*first, *after] if case.reason is None]
    read_until(bootstrap, f"{prefix}.assignments", len(accepted), timeout=180)
    # Everything handled: then, with the worker stopped, every output topic is final (no extra record
    # can come later).
    wait_until_idle(worker)
    log = worker.log()
    assert worker.process.poll() is None, log[-3000:]
    assert "Traceback" not in log and "Crashed" not in log, log[-3000:]
    worker.stop()

    assignments = read_to_end(bootstrap, f"{prefix}.assignments")
    assert sorted(record["id"] for record in assignments) == sorted(accepted), log[-3000:]

    refused = [case for case in first if case.reason is not None]
    rejected = read_to_end(bootstrap, f"{prefix}.articles.rejected")
    assert Counter((r["reason"], r["article_id"]) for r in rejected) == Counter(
        (case.reason, case.article_id) for case in refused
    )
    assert all(record["message"] and "raw" in record for record in rejected)
    big = [record for record in rejected if record["reason"] in ("text_too_long", "too_large")]
    assert len(big) == 2 and all(
        record["raw_truncated"] and record["raw_bytes"] > 20_000_000 for record in big
    )

    # Duplicates never count twice: in the final snapshot of every story each id appears once, in one story.
    snapshots = read_to_end(bootstrap, f"{prefix}.stories")
    final = {snapshot["story_id"]: snapshot for snapshot in snapshots}
    members = [article_id for snapshot in final.values() for article_id in snapshot["article_ids"]]
    assert sorted(members) == sorted(accepted)
    assert sum(snapshot["article_count"] for snapshot in final.values()) == len(accepted)
