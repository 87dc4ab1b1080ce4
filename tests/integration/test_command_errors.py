"""What a person sees when a command cannot work (issue 14): the real CLI, in a process of its own, against
a closed port, a broker that refuses the login, a missing file, a bad option or setting. Each ends in one
line on stderr that says what failed and what to check, a non-zero exit and no traceback, within 15 s.
(TLS failures: test_tls_broker.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from harness import ROOT, free_port, pipeline_environment, streams_cli

# The SASL broker of test_sasl_broker.py (module-scoped: this module starts its own).
from test_sasl_broker import SaslBroker, sasl_broker  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"
# What the issue promises; the commands' own connection budget is about 10 s.
PROMPT_S = 15


def failure(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI; return its exit code and its one stderr line, after checking what every failure owes
    a person: non-zero, one line, no traceback, in time."""
    started = time.monotonic()
    done = streams_cli(env, *args, timeout=60)
    seconds = time.monotonic() - started
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert seconds < PROMPT_S, f"{args}: took {seconds:.1f}s"
    return done.returncode, lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A pipeline environment whose broker is a closed loopback port (nothing listens there)."""
    return {
        **pipeline_environment(f"127.0.0.1:{free_port()}", tmp_path / "data"),
        "STREAMS_EMBEDDER__BACKEND": "hashing",
    }


@pytest.mark.parametrize(
    "command",
    [
        ["topics"],
        ["alerts"],
        ["alerts", "--follow"],
        ["replay", str(SAMPLE), "--max-rate"],
        ["replay", "--from-prefix", "other", "--since", "2026-03-02T00:00:00+03:30"],
        ["worker"],
        ["board", "--port", "0"],
    ],
    ids=lambda command: "-".join(arg for arg in command[:2] if not arg.startswith("/")),
)
def test_a_dead_broker(command: list[str], env: dict[str, str]) -> None:
    code, line = failure(env, *command)
    assert code == 2
    server = env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"]
    assert line.startswith(
        f"error: cannot connect to Kafka ({server}, PLAINTEXT): nothing listens on {server}"
    )
    assert "Is the broker running? Check STREAMS_KAFKA__BOOTSTRAP_SERVERS (--bootstrap-servers)" in line


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["replay", "missing.jsonl", "--max-rate"], "error: file missing.jsonl does not exist"),
        (
            ["offline", "--input", "missing.jsonl", "--assignments", "a.jsonl", "--alerts", "b.jsonl"],
            "missing.jsonl",
        ),
    ],
    ids=["replay", "offline"],
)
def test_a_missing_file(command: list[str], expected: str, env: dict[str, str], tmp_path: Path) -> None:
    code, line = failure(env, *[str(tmp_path / arg) if arg.endswith(".jsonl") else arg for arg in command])
    assert code == 2
    assert expected.replace("missing.jsonl", str(tmp_path / "missing.jsonl")) in line


@pytest.mark.parametrize(
    "command",
    [["replay", str(SAMPLE), "--bogus"], ["topics", "--bootstrap"], ["alerts", "extra"], ["wroker"]],
    ids=["unknown-option", "incomplete-option", "extra-argument", "unknown-command"],
)
def test_a_bad_option(command: list[str], env: dict[str, str]) -> None:
    code, line = failure(env, *command)
    assert code == 2
    assert "error:" in line and line.endswith("--help)")


def test_a_bad_setting(env: dict[str, str]) -> None:
    env["STREAMS_KAFKA__SASL_MECHANISM"] = "KERBEROS"
    code, line = failure(env, "topics")
    assert code == 2
    assert line.startswith("error: STREAMS_KAFKA__SASL_MECHANISM='KERBEROS': Input should be 'PLAIN'")


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
@pytest.mark.parametrize("command", [["topics"], ["alerts"], ["worker"]], ids=lambda command: command[0])
def test_wrong_credentials(
    command: list[str],
    mechanism: str,
    sasl_broker: SaslBroker,  # noqa: F811
    tmp_path: Path,
) -> None:
    wrong = f"not-{sasl_broker.password}"
    code, line = failure(sasl_broker.env(mechanism, tmp_path, password=wrong), *command)
    assert code == 2
    where = f"{sasl_broker.bootstrap}, SASL_PLAINTEXT, {mechanism} as user 'streams'"
    # The broker's own reason when the client logged it in time; on a busy machine the refusal can come
    # after the client's bootstrap budget, and the line still names the login and its settings.
    refused = f"error: cannot connect to Kafka ({where}): the broker refused the login (Authentication failed"
    late = f"error: cannot connect to Kafka ({where}): the broker did not accept the login within"
    assert line.startswith((refused, late)), line
    assert (
        "STREAMS_KAFKA__SASL_USERNAME, STREAMS_KAFKA__SASL_PASSWORD and STREAMS_KAFKA__SASL_MECHANISM" in line
    )
    assert "Check STREAMS_KAFKA__SASL_USERNAME, STREAMS_KAFKA__SASL_PASSWORD" in line
    assert wrong not in line and sasl_broker.password not in line


def test_no_credentials_on_a_sasl_port(sasl_broker: SaslBroker, tmp_path: Path) -> None:  # noqa: F811
    env = sasl_broker.env("PLAIN", tmp_path)
    env["STREAMS_KAFKA__SECURITY_PROTOCOL"] = "PLAINTEXT"
    code, line = failure(env, "alerts")
    assert code == 2
    assert line.startswith(f"error: cannot connect to Kafka ({sasl_broker.bootstrap}, PLAINTEXT)")
    assert "STREAMS_KAFKA__SECURITY_PROTOCOL" in line


def test_a_missing_topic_prefix(sasl_broker: SaslBroker, tmp_path: Path) -> None:  # noqa: F811
    # The broker is fine; the prefix names nothing there (the feed must not create the topic).
    env = sasl_broker.env("SCRAM-SHA-256", tmp_path)
    code, line = failure(env, "alerts")
    assert code == 2
    assert f"there is no topic {env['STREAMS_KAFKA__TOPIC_PREFIX']}.alerts on the broker" in line
    code, line = failure(env, "alerts")
    assert "there is no topic" in line, "the first run created the topic"
    code, line = failure(env, "replay", "--from-prefix", "nothing-here")
    assert "there is no topic nothing-here.articles to copy from: check --from-prefix" in line
