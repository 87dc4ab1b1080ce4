"""The command line: help everywhere, and usage errors exit 2 with a message (no broker needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streams.commands import build_parser, main

COMMANDS = [
    "worker",
    "offline",
    "replay",
    "alerts",
    "evaluate",
    "topics",
    "bench",
    "distill",
    "export-e5",
    "export-onnx",
    "train-encoder",
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
