"""Static checks of the container deployment: docker-compose.yml, deploy/Dockerfile, .env.example.

No Docker engine and no network: compose-go (the compose-spec implementation inside docker compose) loads
and validates docker-compose.yml, and the files are checked against the code they drive (the command line
parser and the Settings model), so a renamed command or setting fails here, not at `up`.
"""

from __future__ import annotations

import ast
import base64
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from dotenv import dotenv_values

from streams.commands import build_parser
from streams.settings import KafkaSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

STREAMS_SERVICES = ("topics", "worker", "replay", "alerts")
EXPECTED_COMMANDS = {"topics": "topics", "worker": "worker", "replay": "replay", "alerts": "alerts"}
STREAMS_VAR = re.compile(r"\bSTREAMS_[A-Z0-9_]+")


# ---------------------------------------------------------------- loading


@cache
def compose() -> dict[str, Any]:
    # safe_load resolves the YAML merge keys (<<: *streams) that compose also resolves.
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


@cache
def env_example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "env_example", ROOT / "deploy" / "compose" / "env_example.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve string annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@cache
def setting_names() -> frozenset[str]:
    return frozenset(env_example_module().env_names())


def walk_settings(model: Any = Settings, prefix: str = "STREAMS_") -> set[str]:
    """Independent of the generator: every leaf field of Settings as an environment variable name."""
    names = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
            names |= walk_settings(annotation, f"{prefix}{name.upper()}__")
        else:
            names.add(prefix + name.upper())
    return names


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    lines = [
        line
        for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def instructions(keyword: str) -> list[str]:
    return [rest for name, rest in dockerfile() if name == keyword]


def dockerfile_env() -> dict[str, str]:
    env = {}
    for rest in instructions("ENV"):
        for token in shlex.split(rest):
            key, _, value = token.partition("=")
            env[key] = value
    return env


def env_example_names() -> list[str]:
    """Every STREAMS_ assignment in .env.example, active or commented out (unset by default)."""
    pattern = re.compile(r"^(?:#\s*)?(STREAMS_[A-Z0-9_]+)=", re.MULTILINE)
    return pattern.findall(ENV_EXAMPLE.read_text(encoding="utf-8"))


def parse_command(argv: list[str]) -> Any:
    try:
        return build_parser().parse_args(argv)
    except SystemExit as error:
        pytest.fail(f"`python -m streams {shlex.join(argv)}` is not a valid command line (exit {error.code})")


def clear_streams_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STREAMS_"):
            monkeypatch.delenv(key)


# ---------------------------------------------------------------- compose: structure


def test_compose_has_the_expected_services_and_no_version_key() -> None:
    assert "version" not in compose(), "the compose spec has no top-level version key"
    assert set(services()) >= {"kafka", "topics", "worker", "prometheus", "grafana", "replay", "alerts"}


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image, f"service {name} names no image"
        assert "${" not in image, f"service {name}: image {image} is not a literal"
        if "@sha256:" in image:
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"service {name}: image {image} has no tag"
        assert tag != "latest", f"service {name}: image {image} is not pinned"
    for source in instructions("FROM"):
        image = source.split()[0]
        assert ":" in image and not image.endswith(":latest"), f"Dockerfile base {image} is not pinned"
        assert image == "python:3.12-slim-bookworm"


def test_kafka_is_the_official_image_pinned_to_a_release() -> None:
    assert re.fullmatch(r"apache/kafka:\d+\.\d+\.\d+", services()["kafka"]["image"])


def test_worker_builds_from_deploy_dockerfile_and_shares_its_image() -> None:
    worker = services()["worker"]
    build = worker["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
    for name in STREAMS_SERVICES:
        assert services()[name]["image"] == worker["image"], f"{name} does not run the worker's image"
        assert "entrypoint" not in services()[name], f"{name} overrides the image's entrypoint"


def test_streams_commands_are_valid_cli_invocations() -> None:
    for name, expected in EXPECTED_COMMANDS.items():
        command = services()[name]["command"]
        assert isinstance(command, list), f"{name}: give the command as a list (no shell splitting)"
        args = parse_command(command)
        assert args.command == expected, f"{name} runs `{args.command}`, expected `{expected}`"


def test_replay_plays_the_bundled_sample_paced_and_alerts_follow() -> None:
    replay = parse_command(services()["replay"]["command"])
    assert replay.speed == 3600
    # The image copies samples/ to /app/samples/: the file must exist in the repository.
    assert str(replay.file).startswith("/app/")
    assert (ROOT / Path(str(replay.file)).relative_to("/app")).is_file()
    assert parse_command(services()["alerts"]["command"]).follow is True


def test_service_order_and_profiles() -> None:
    s = services()
    assert s["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert s["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    for name in ("replay", "alerts"):
        assert s[name]["profiles"] == ["replay"]
        assert s[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    for name in ("kafka", "topics", "worker", "prometheus", "grafana"):
        assert "profiles" not in s[name], f"{name} must start with a plain `docker compose up`"
    assert s["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert s["worker"]["restart"] == "unless-stopped"
    assert s["topics"]["restart"] == "no"


def test_worker_environment_and_port() -> None:
    worker = services()["worker"]
    assert {"path": ".env", "required": False} in worker["env_file"]
    assert worker["environment"]["STREAMS_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    # A host port range: `--scale worker=N` gives each replica one (6066 for the first).
    assert worker["ports"] == ["127.0.0.1:6066-6069:6066"]
    assert "container_name" not in worker, "a fixed container name prevents scaling out"
    # The image's healthcheck probes the worker; the one-shot and CLI services turn it off.
    for name in ("topics", "replay", "alerts"):
        assert services()[name]["healthcheck"] == {"disable": True}


def test_compose_environment_is_accepted_by_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STREAMS_SERVICES:
        clear_streams_env(monkeypatch)
        for key, value in services()[name]["environment"].items():
            monkeypatch.setenv(key, str(value))
        settings = Settings()
        assert settings.kafka.bootstrap_servers == "kafka:9092"
        assert settings.worker.web_host == "0.0.0.0"


def test_kafka_service_is_a_single_kraft_node() -> None:
    kafka = services()["kafka"]
    env = {key: str(value) for key, value in kafka["environment"].items()}
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    listeners = env["KAFKA_LISTENERS"].split(",")
    assert {"PLAINTEXT://:9092", "CONTROLLER://:9093", "EXTERNAL://:29092"} <= set(listeners)
    assert set(env["KAFKA_ADVERTISED_LISTENERS"].split(",")) == {
        "PLAINTEXT://kafka:9092",
        "EXTERNAL://localhost:29092",
    }
    protocol_map = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(protocol_map) == {"PLAINTEXT", "CONTROLLER", "EXTERNAL"}
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1"
    # KRaft storage is formatted with CLUSTER_ID: a UUID, 16 bytes in unpadded base64url.
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    # The broker must accept the largest message the pipeline sends (topics.py: max_message_bytes + 1 MiB).
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= KafkaSettings().fetch_max_bytes
    assert any("29092:29092" in str(port) for port in kafka["ports"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in " ".join(kafka["healthcheck"]["test"])


def test_named_volumes_are_declared() -> None:
    declared = set(compose().get("volumes") or {})
    assert any(str(v).startswith("kafka-data:") for v in services()["kafka"]["volumes"])
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"service {name} uses undeclared volume {source}"


def test_monitoring_mounts_point_into_deploy() -> None:
    prometheus = [str(v) for v in services()["prometheus"]["volumes"]]
    assert any(v.startswith("./deploy/prometheus/prometheus.yml:") and v.endswith(":ro") for v in prometheus)
    assert any(v.startswith("./deploy/prometheus/rules") and v.endswith(":ro") for v in prometheus)
    grafana = [str(v) for v in services()["grafana"]["volumes"]]
    assert any(v.startswith("./deploy/grafana/provisioning:") for v in grafana)
    assert any(v.startswith("./deploy/grafana/dashboards:") for v in grafana)


# ---------------------------------------------------------------- settings names


def test_generator_walks_every_setting() -> None:
    assert setting_names() == walk_settings()
    assert "STREAMS_KAFKA__BOOTSTRAP_SERVERS" in setting_names()


def test_every_streams_variable_used_is_a_real_setting() -> None:
    for path in (COMPOSE, DOCKERFILE, ENV_EXAMPLE):
        unknown = set(STREAMS_VAR.findall(path.read_text(encoding="utf-8"))) - setting_names()
        assert not unknown, (
            f"{path.name} uses settings that streams/settings.py does not have: {sorted(unknown)}"
        )


def test_env_example_lists_every_setting_once() -> None:
    names = env_example_names()
    missing = setting_names() - set(names)
    assert not missing, f".env.example lacks {sorted(missing)}; run: python deploy/compose/env_example.py"
    duplicated = sorted({name for name in names if names.count(name) > 1})
    assert not duplicated, f".env.example sets {duplicated} more than once"


def test_env_example_is_generated_from_settings() -> None:
    expected = env_example_module().render()
    assert ENV_EXAMPLE.read_text(encoding="utf-8") == expected, (
        ".env.example is out of date; run: python deploy/compose/env_example.py"
    )


def test_env_example_values_are_the_defaults_and_secrets_are_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_streams_env(monkeypatch)
    defaults = Settings()
    values = {key: value for key, value in dotenv_values(ENV_EXAMPLE).items() if value is not None}
    for setting in env_example_module().iter_settings():
        if setting.secret:
            assert not values.get(setting.env), f"{setting.env} is a secret: leave it empty"
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    assert Settings() == defaults, "copying .env.example to .env must not change any setting"


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_as_non_root() -> None:
    users = instructions("USER")
    assert users, "the Dockerfile has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user == "10001"


def test_dockerfile_downloads_no_model() -> None:
    env = dockerfile_env()
    assert env.get("HF_HUB_OFFLINE") == "1"
    assert env.get("TRANSFORMERS_OFFLINE") == "1"
    download = re.compile(
        r"huggingface-cli|hf download|snapshot_download|hf_hub_download|from_pretrained|"
        r"SentenceTransformer\(|\bwget\b|\bcurl\b|https?://",
        re.IGNORECASE,
    )
    for rest in instructions("RUN") + instructions("ADD"):
        assert not download.search(rest), f"the Dockerfile fetches something at build time: RUN {rest}"
    assert not instructions("ADD")


def test_dockerfile_layout_entrypoint_and_healthcheck() -> None:
    assert len(instructions("FROM")) >= 2, "expected a multi-stage build"
    assert instructions("WORKDIR")[-1] == "/app"
    copies = " ".join(instructions("COPY"))
    for source in ("requirements.lock", "streams", "samples", "schemas"):
        assert re.search(rf"(^|\s){re.escape(source)}(\s|$)", copies), f"the image does not copy {source}"
    assert any("pip install --no-cache-dir -r requirements.lock" in rest for rest in instructions("RUN"))
    assert any("pip install --no-cache-dir --no-deps ." in rest for rest in instructions("RUN"))
    assert json.loads(instructions("ENTRYPOINT")[-1]) == ["python", "-m", "streams"]
    command = json.loads(instructions("CMD")[-1])
    assert parse_command(command).command == "worker"
    assert "6066" in instructions("EXPOSE")[-1].split()
    assert dockerfile_env()["STREAMS_WORKER__WEB_HOST"] == "0.0.0.0"

    healthcheck = instructions("HEALTHCHECK")[-1]
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert probe[:2] == ["python", "-c"]
    ast.parse(probe[2])  # the one-liner is valid Python
    assert "urllib" in probe[2]


def test_dockerignore_keeps_the_build_inputs_and_drops_secrets() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(name: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            if fnmatch.fnmatch(name, pattern.lstrip("!").rstrip("/")):
                verdict = not negate
        return verdict

    for needed in ("requirements.lock", "pyproject.toml", "README.md", "streams", "samples", "schemas"):
        assert not ignored(needed), f".dockerignore drops {needed}, which the image needs"
    for dropped in (".env", ".venv", ".git"):
        assert ignored(dropped), f".dockerignore should drop {dropped}"


# ---------------------------------------------------------------- compose-spec: compose-go


COMPOSE_VALIDATE = ROOT / ".cache" / "bin" / "compose-validate"
VALIDATOR_SOURCE = ROOT / "deploy" / "compose" / "validate"


def under_ci() -> bool:
    """CI sets CI=true: there every test must run, none may skip for want of a tool."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@cache
def build_validator() -> str | None:
    """Build deploy/compose/validate when the binary is missing or older than its sources; None when built,
    else why not. `make compose-validate` uses `go` from PATH, or fetches a Go toolchain into
    .cache/go-toolchain (`make go-toolchain`); modules are cached in .cache/go."""
    sources = list(VALIDATOR_SOURCE.iterdir())
    fresh = COMPOSE_VALIDATE.exists() and all(
        COMPOSE_VALIDATE.stat().st_mtime >= path.stat().st_mtime for path in sources
    )
    if fresh:
        return None
    if shutil.which("make") is None:
        return "make is not installed: cannot run `make compose-validate`"
    build = subprocess.run(
        ["make", "--no-print-directory", "-B", "compose-validate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = (build.stdout + build.stderr).strip()
    assert build.returncode == 0, output
    if COMPOSE_VALIDATE.exists():
        return None
    notes = [line for line in output.splitlines() if line.startswith("note:")]
    return " / ".join(notes) or output or "`make compose-validate` built nothing"


def compose_validator() -> Path:
    """The compose-go validator; skips where it cannot be had, except under CI (a fresh machine must not
    silently skip the compose-spec check)."""
    missing = build_validator()
    if missing is not None:
        if under_ci():
            pytest.fail(f"CI=true and the compose-go validator is missing: {missing}")
        pytest.skip(missing)
    return COMPOSE_VALIDATE


def validate_compose(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_validator()), *args, str(path)],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_is_valid_for_compose_go() -> None:
    result = validate_compose(COMPOSE)
    assert result.returncode == 0, result.stderr
    project = json.loads(validate_compose(COMPOSE, "-json").stdout)
    # The resolved project, as `docker compose config` would print it: merge keys applied, every profile.
    assert set(project["services"]) == set(services())
    worker = project["services"]["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert worker["environment"]["STREAMS_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert worker["ports"][0]["published"] == "6066-6069"
    for name in ("prometheus", "grafana"):
        for volume in project["services"][name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name} mounts {volume['source']}, which is missing"


@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        ("services:\n  a:\n    image: x:1\n    portz: [1]\n", "portz"),
        ("services:\n  a:\n    image: x:1\n    depends_on: [b]\n", "undefined service"),
        ("services:\n  a:\n    image: x:1\n    ports: ['abc:def']\n", "Port"),
    ],
)
def test_compose_validator_refuses_invalid_files(tmp_path: Path, broken: str, complaint: str) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text(broken, encoding="utf-8")
    result = validate_compose(path)
    assert result.returncode == 1 and complaint in result.stderr, result.stderr


def test_a_missing_validator_skips_locally_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    module = sys.modules[__name__]
    reason = "note: cannot fetch Go: curl is missing"
    monkeypatch.setattr(module, "build_validator", lambda: reason)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=reason):
        compose_validator()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and the compose-go validator is missing"):
        compose_validator()
    monkeypatch.setattr(module, "build_validator", lambda: None)
    assert compose_validator() == COMPOSE_VALIDATE
