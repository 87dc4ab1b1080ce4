"""Kafka security settings reach the clients: a broker that requires SASL (``kafka.sh start --sasl``) on
loopback, the CLI and the worker logging in with PLAIN and SCRAM, wrong credentials failing with a clear
error, and the password never written to a log."""

from __future__ import annotations

import os
import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from bad_messages import good_cases
from harness import KAFKA_SH, ROOT, Worker, free_port_pair, streams_cli
from topic_reader import read_until

from streams.kafka.clients import client_options
from streams.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


@dataclass(frozen=True)
class SaslBroker:
    bootstrap: str
    user: str
    password: str

    def env(self, mechanism: str, tmp_path: Path, password: str | None = None) -> dict[str, str]:
        """A pipeline environment (own prefix and group) that logs in as ``user``."""
        name = f"sasl-{uuid.uuid4().hex[:8]}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")}
        env.update(
            {
                "STREAMS_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "STREAMS_KAFKA__SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "STREAMS_KAFKA__SASL_MECHANISM": mechanism,
                "STREAMS_KAFKA__SASL_USERNAME": self.user,
                "STREAMS_KAFKA__SASL_PASSWORD": self.password if password is None else password,
                "STREAMS_KAFKA__TOPIC_PREFIX": name,
                "STREAMS_WORKER__APP_ID": name,
                "STREAMS_WORKER__DATA_DIR": str(tmp_path / "worker-data"),
                "STREAMS_EMBEDDER__BACKEND": "hashing",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    """A second broker, for this module only, that accepts only SASL logins on its client port."""
    port = free_port_pair()
    run_dir = tmp_path_factory.mktemp("kafka-sasl")
    broker = SaslBroker(f"127.0.0.1:{port}", "streams", secrets.token_hex(12))
    env = {**os.environ, "KAFKA_SASL_USERS": f"{broker.user}:{broker.password}"}
    command = [str(KAFKA_SH), "start", "--sasl", "--port", str(port), "--dir", str(run_dir)]
    subprocess.run(command, check=True, cwd=ROOT, env=env)
    try:
        yield broker
    finally:
        subprocess.run([str(KAFKA_SH), "stop", "--dir", str(run_dir)], check=False, cwd=ROOT)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_the_cli_logs_in_with_each_mechanism(sasl_broker: SaslBroker, mechanism: str, tmp_path: Path) -> None:
    done = streams_cli(sasl_broker.env(mechanism, tmp_path), "topics")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "created:" in done.stderr
    assert sasl_broker.password not in done.stdout + done.stderr


def test_the_worker_runs_the_pipeline_over_sasl(
    sasl_broker: SaslBroker, start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = sasl_broker.env("SCRAM-SHA-256", tmp_path)
    worker = start_worker(env)
    cases = good_cases()
    source = tmp_path / "good.jsonl"
    source.write_bytes(b"".join(case.raw + b"\n" for case in cases))
    replayed = streams_cli(env, "replay", str(source), "--max-rate", "--no-progress")
    assert replayed.returncode == 0, replayed.stderr[-3000:]

    # The test's own reader logs in with the same settings (streams.kafka.topics.client_options).
    kafka = KafkaSettings(
        bootstrap_servers=sasl_broker.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username=sasl_broker.user,
        sasl_password=sasl_broker.password,
    )
    prefix = env["STREAMS_KAFKA__TOPIC_PREFIX"]
    assignments = read_until(
        sasl_broker.bootstrap,
        f"{prefix}.assignments",
        len(cases),
        timeout=120,
        client_options=client_options(kafka),
    )
    assert sorted(record["id"] for record in assignments) == sorted(case.article_id or "" for case in cases)
    log = worker.log()
    assert "Authenticated as streams via SCRAM-SHA-256" in log
    assert sasl_broker.password not in log + replayed.stderr


def test_wrong_credentials_stop_the_worker_with_a_clear_error(
    sasl_broker: SaslBroker, tmp_path: Path
) -> None:
    wrong = f"not-{sasl_broker.password}"
    env = sasl_broker.env("PLAIN", tmp_path, password=wrong)
    done = streams_cli(env, "worker")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output[-3000:]
    # What failed, where, and as whom: the broker's own reason when the client logged it within its bootstrap
    # budget; on a busy machine the refusal can come later, and the line still names the login.
    assert "Authentication failed" in output or "the broker did not accept the login within" in output
    assert "STREAMS_KAFKA__SASL_PASSWORD" in output
    assert (
        f"error: cannot connect to Kafka ({sasl_broker.bootstrap}, SASL_PLAINTEXT, PLAIN as user 'streams')"
        in output
    )
    assert "Traceback" not in output
    assert wrong not in output and sasl_broker.password not in output


def test_a_client_without_credentials_is_refused(sasl_broker: SaslBroker, tmp_path: Path) -> None:
    env = sasl_broker.env("PLAIN", tmp_path)
    env["STREAMS_KAFKA__SECURITY_PROTOCOL"] = "PLAINTEXT"
    done = streams_cli(env, "topics")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "error: cannot connect to Kafka" in done.stderr
