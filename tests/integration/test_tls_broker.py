"""TLS against a real broker (``kafka.sh start --tls`` / ``--tls-client-auth``): the CLI and the worker over
TLS and mutual TLS with the certificates kafka.sh made, and every way of getting TLS wrong (a CA that did
not sign the broker's certificate, no client certificate where one is required, plaintext on the TLS port)
ending in one line that says what to check, a non-zero exit, within 15 s."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from bad_messages import good_cases
from harness import KAFKA_SH, ROOT, Worker, free_port_pair, streams_cli
from topic_reader import read_until

from streams.kafka.clients import client_options
from streams.settings import KafkaSettings

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

# What the issue promises a person for every failure (the CLI's own budget is about 10 s).
PROMPT_S = 15


@dataclass(frozen=True)
class TlsBroker:
    bootstrap: str
    tls_dir: Path  # what kafka.sh made: ca.pem, client.pem, client.key

    def kafka(self, client_cert: bool = True, cafile: Path | None = None) -> KafkaSettings:
        return KafkaSettings(
            bootstrap_servers=self.bootstrap,
            security_protocol="SSL",
            ssl_cafile=str(cafile or self.tls_dir / "ca.pem"),
            ssl_certfile=str(self.tls_dir / "client.pem") if client_cert else None,
            ssl_keyfile=str(self.tls_dir / "client.key") if client_cert else None,
        )

    def env(self, tmp_path: Path, client_cert: bool = True, cafile: Path | None = None) -> dict[str, str]:
        """A pipeline environment (own prefix and group) that connects over TLS."""
        name = f"tls-{uuid.uuid4().hex[:8]}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("STREAMS_")}
        kafka = self.kafka(client_cert, cafile)
        env.update(
            {
                "STREAMS_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "STREAMS_KAFKA__SECURITY_PROTOCOL": "SSL",
                "STREAMS_KAFKA__SSL_CAFILE": kafka.ssl_cafile or "",
                "STREAMS_KAFKA__TOPIC_PREFIX": name,
                "STREAMS_WORKER__APP_ID": name,
                "STREAMS_WORKER__DATA_DIR": str(tmp_path / "worker-data"),
                "STREAMS_EMBEDDER__BACKEND": "hashing",
                "PYTHONUNBUFFERED": "1",
            }
        )
        if client_cert:
            env["STREAMS_KAFKA__SSL_CERTFILE"] = kafka.ssl_certfile or ""
            env["STREAMS_KAFKA__SSL_KEYFILE"] = kafka.ssl_keyfile or ""
        return env


def start_tls_broker(run_dir: Path, *options: str) -> Iterator[TlsBroker]:
    port = free_port_pair()
    command = [str(KAFKA_SH), "start", *options, "--port", str(port), "--dir", str(run_dir)]
    subprocess.run(command, check=True, cwd=ROOT, timeout=180)
    try:
        yield TlsBroker(f"127.0.0.1:{port}", run_dir / "tls")
    finally:
        subprocess.run([str(KAFKA_SH), "stop", "--dir", str(run_dir)], check=False, cwd=ROOT, timeout=60)


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker, for this module only, whose client port speaks only TLS (server certificate only)."""
    yield from start_tls_broker(tmp_path_factory.mktemp("kafka-tls"), "--tls")


@pytest.fixture(scope="module")
def mtls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    """A broker that also requires a client certificate signed by its CA (mutual TLS)."""
    yield from start_tls_broker(tmp_path_factory.mktemp("kafka-mtls"), "--tls-client-auth")


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate that did not sign the brokers' certificates (made the way kafka.sh makes its own)."""
    folder = tmp_path_factory.mktemp("other-ca")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=another CA", "-keyout", str(folder / "ca.key"), "-out", str(folder / "ca.pem")),
        ],
        check=True,
        capture_output=True,
    )
    return folder / "ca.pem"


def timed_cli(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The real CLI in a process of its own, and its wall time in seconds."""
    started = time.monotonic()
    done = streams_cli(env, *args)
    return done, time.monotonic() - started


def one_clear_line(done: subprocess.CompletedProcess[str], seconds: float) -> str:
    """The failure as a person sees it: a non-zero exit within the promise and one line on stderr."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0, done.stderr[-3000:]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert seconds < PROMPT_S, f"took {seconds:.1f}s: {lines}"
    return lines[0]


def read_all(kafka: KafkaSettings, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic`` up to its end offsets now, over the same TLS settings as the CLI."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**client_options(kafka), group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"there is no topic {topic}"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + 60
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"{topic}: not read to its end within 60s"
            for batch in consumer.poll(timeout_ms=300).values():
                records.extend(json.loads(record.value) for record in batch)
        return records
    finally:
        consumer.close()


def cases_file(tmp_path: Path) -> tuple[Path, list[str]]:
    cases = good_cases()
    source = tmp_path / "good.jsonl"
    source.write_bytes(b"".join(case.raw + b"\n" for case in cases))
    return source, sorted(case.article_id or "" for case in cases)


def test_the_cli_over_tls(tls_broker: TlsBroker, tmp_path: Path) -> None:
    env = tls_broker.env(tmp_path, client_cert=False)
    prefix = env["STREAMS_KAFKA__TOPIC_PREFIX"]
    created, _ = timed_cli(env, "topics")
    assert created.returncode == 0, created.stderr[-3000:]
    assert f"{prefix}.articles" in created.stderr

    source, ids = cases_file(tmp_path)
    replayed, _ = timed_cli(env, "replay", str(source), "--max-rate", "--no-progress")
    assert replayed.returncode == 0, replayed.stderr[-3000:]
    assert f"sent {len(ids)} messages" in replayed.stderr
    kafka = tls_broker.kafka(client_cert=False).model_copy(update={"topic_prefix": prefix})
    assert sorted(record["id"] for record in read_all(kafka, f"{prefix}.articles")) == ids

    # A range of that input topic into another prefix, over TLS too.
    rerun = {**env, "STREAMS_KAFKA__TOPIC_PREFIX": f"{prefix}-rerun"}
    copied, _ = timed_cli(rerun, "replay", "--from-prefix", prefix, "--no-progress")
    assert copied.returncode == 0, copied.stderr[-3000:]
    assert sorted(record["id"] for record in read_all(kafka, f"{prefix}-rerun.articles")) == ids

    # No worker ran: the alerts topic exists and is empty, which the feed reads without error.
    feed, _ = timed_cli(env, "alerts")
    assert feed.returncode == 0, feed.stderr[-3000:]
    assert feed.stdout == ""


def test_the_worker_over_mutual_tls(
    mtls_broker: TlsBroker, start_worker: Callable[[dict[str, str]], Worker], tmp_path: Path
) -> None:
    env = mtls_broker.env(tmp_path, client_cert=True)
    prefix = env["STREAMS_KAFKA__TOPIC_PREFIX"]
    # The worker (faust/aiokafka) presents the client certificate from its SSL context (app.py).
    worker = start_worker(env)
    source, ids = cases_file(tmp_path)
    replayed, _ = timed_cli(env, "replay", str(source), "--max-rate", "--no-progress")
    assert replayed.returncode == 0, replayed.stderr[-3000:]

    kafka = mtls_broker.kafka(client_cert=True)
    assignments = read_until(
        mtls_broker.bootstrap,
        f"{prefix}.assignments",
        len(ids),
        timeout=120,
        client_options=client_options(kafka),
    )
    assert sorted(record["id"] for record in assignments) == ids, worker.log()[-3000:]

    # The alert feed over mutual TLS prints what the worker wrote (each alert once).
    worker.stop()
    alerts = read_all(kafka, f"{prefix}.alerts")
    assert alerts, "the quake and fire stories of the good cases alert"
    feed, _ = timed_cli(env, "alerts", "--json")
    assert feed.returncode == 0, feed.stderr[-3000:]
    printed = [json.loads(line)["alert_id"] for line in feed.stdout.splitlines()]
    assert printed == list(dict.fromkeys(alert["alert_id"] for alert in alerts))


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_broker: TlsBroker, tmp_path: Path) -> None:
    env = mtls_broker.env(tmp_path, client_cert=False)
    line = one_clear_line(*timed_cli(env, "topics"))
    assert line.startswith(f"error: cannot connect to Kafka ({mtls_broker.bootstrap}, SSL)")
    assert "client certificate" in line and "STREAMS_KAFKA__SSL_CERTFILE" in line


@pytest.mark.parametrize(
    "command",
    [["topics"], ["alerts"], ["replay", "--from-prefix", "other"], ["worker"]],
    ids=lambda command: "-".join(command[:2]),
)
def test_a_wrong_ca_is_refused_in_one_line(
    command: list[str], tls_broker: TlsBroker, other_ca: Path, tmp_path: Path
) -> None:
    env = tls_broker.env(tmp_path, client_cert=False, cafile=other_ca)
    line = one_clear_line(*timed_cli(env, *command))
    assert line.startswith(f"error: cannot connect to Kafka ({tls_broker.bootstrap}, SSL)")
    assert "certificate" in line and "STREAMS_KAFKA__SSL_CAFILE" in line


def test_a_plaintext_client_on_the_tls_port_is_told_to_check_the_protocol(
    tls_broker: TlsBroker, tmp_path: Path
) -> None:
    env = tls_broker.env(tmp_path, client_cert=False)
    env["STREAMS_KAFKA__SECURITY_PROTOCOL"] = "PLAINTEXT"
    line = one_clear_line(*timed_cli(env, "alerts"))
    assert "STREAMS_KAFKA__SECURITY_PROTOCOL (now PLAINTEXT)" in line


def test_a_tls_client_on_a_plaintext_port_is_told_to_check_the_protocol(
    kafka_bootstrap: str, tls_broker: TlsBroker, tmp_path: Path
) -> None:
    env = tls_broker.env(tmp_path, client_cert=False)
    env["STREAMS_KAFKA__BOOTSTRAP_SERVERS"] = kafka_bootstrap
    line = one_clear_line(*timed_cli(env, "topics"))
    assert "TLS handshake" in line and "STREAMS_KAFKA__SECURITY_PROTOCOL" in line
