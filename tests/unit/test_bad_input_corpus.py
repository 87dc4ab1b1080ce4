"""Bad input never breaks the detector: the hand-made corpus (``tests/bad_messages.py``) and hypothesis
fuzzing of the parse/prepare path and of the ``offline`` command. Every bad message becomes a rejection with a
documented reason code; accepted + rejected = messages; nothing raises; ``offline`` exits 0.

Also the security properties that are checked in code: no pickle anywhere, raw-bytes codecs in the app.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bad_messages import T0, Case, article, bad_cases, corpus, duplicate_cases, good_cases, late_case
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.commands import main
from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.errors import DeliveryError, RejectReason
from streams.records import EmbeddedArticle, Rejection
from streams.settings import KafkaSettings, Settings, TrackerSettings, WorkerSettings

REPO = Path(__file__).resolve().parents[2]
EMBEDDER = HashingEmbedder(256)
# The wall clock of these tests: long after the corpus's good articles, long before 2100.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REASONS = {reason.value for reason in RejectReason}
SETTINGS = Settings(tracker=TrackerSettings(lexical_weight=0.0))


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return corpus()


def preparer(settings: Settings = SETTINGS, now: datetime = NOW) -> ArticlePreparer:
    return ArticlePreparer(settings, EMBEDDER, wall_clock=lambda: now)


def run(messages: list[bytes], settings: Settings = SETTINGS) -> tuple[list[Rejection], list[str]]:
    """Prepare then track, as offline does: (every rejection, the accepted ids in tracking order)."""
    prepared = preparer(settings).prepare([InputMessage(raw, offset=i) for i, raw in enumerate(messages)])
    assert len(prepared) == len(messages)
    rejections = [item for item in prepared if isinstance(item, Rejection)]
    tracker = Detector(settings, calibration=Calibration(EMBEDDER.default_threshold, centered=False))
    accepted = []
    embedded = [item for item in prepared if isinstance(item, EmbeddedArticle)]
    for item in sorted(embedded, key=canonical_order_key):
        result = tracker.track(item)
        assert (result.assignment is None) != (result.rejection is None)
        if result.rejection is not None:
            rejections.append(result.rejection)
        else:
            accepted.append(item.id)
        for record in [result.assignment, result.rejection, *result.snapshots, *result.alerts]:
            if record is not None:
                json.loads(record.to_json_bytes())
    for rejection in rejections:
        assert rejection.reason in REASONS and rejection.message
        assert json.loads(rejection.to_json_bytes())["reason"] == rejection.reason
    assert len(accepted) + len(rejections) == len(messages)
    return rejections, accepted


# ------------------------------------------------------------------------------------------ the corpus


def test_every_bad_message_gets_its_reason_and_id(cases: list[Case]) -> None:
    rejections, accepted = run([case.raw for case in cases])
    by_offset = {rejection.input_offset: rejection for rejection in rejections}
    assert len(by_offset) == len(rejections), "a message was rejected twice"
    for offset, case in enumerate(cases):
        if case.reason is None:
            assert offset not in by_offset, (case.name, by_offset.get(offset))
            continue
        rejection = by_offset[offset]
        assert (rejection.reason, rejection.article_id) == (case.reason, case.article_id), case.name
        if case.reason == "duplicate_id":
            continue  # refused by the tracker: its dead letter shows the embedded record
        # The dead letter keeps a bounded, valid-text prefix of the message and its true size.
        assert rejection.raw_bytes == len(case.raw)
        assert case.raw.startswith(rejection.raw.encode("utf-8"))
        assert len(rejection.raw.encode("utf-8")) <= 64 * 1024
    expected = sorted(case.article_id or "" for case in [*good_cases(), late_case()])
    assert sorted(accepted) == expected


def test_duplicates_never_count_twice_in_a_story() -> None:
    messages = [case.raw for case in [*good_cases(), *duplicate_cases()]]
    prepared = preparer().prepare([InputMessage(raw, offset=i) for i, raw in enumerate(messages)])
    tracker = Detector(SETTINGS, calibration=Calibration(EMBEDDER.default_threshold, centered=False))
    snapshots = {}
    for item in sorted((p for p in prepared if isinstance(p, EmbeddedArticle)), key=canonical_order_key):
        for snapshot in tracker.track(item).snapshots:
            snapshots[snapshot.story_id] = snapshot
    members = [article_id for snapshot in snapshots.values() for article_id in snapshot.article_ids]
    assert sorted(members) == sorted(case.article_id or "" for case in good_cases())
    assert sum(snapshot.article_count for snapshot in snapshots.values()) == len(good_cases())


def test_the_offline_command_rejects_every_bad_line_and_exits_0(cases: list[Case], tmp_path: Path) -> None:
    lines = [case.raw for case in cases]
    outputs = run_offline_cli(lines, tmp_path)
    rejects = outputs["rejects"]
    # read_messages numbers lines from 1.
    by_line = {row["input_offset"]: row for row in rejects}
    assert len(by_line) == len(rejects)
    for number, case in enumerate(cases, start=1):
        if case.reason is None:
            assert number not in by_line, case.name
        else:
            assert (by_line[number]["reason"], by_line[number]["article_id"]) == (
                case.reason,
                case.article_id,
            )
    assert len(outputs["assignments"]) + len(rejects) == len(lines)
    stories = outputs["stories"]
    members = [article_id for story in stories for article_id in story["article_ids"]]
    assert len(members) == len(set(members)), "an article counted twice in the stories"


def run_offline_cli(lines: list[bytes], folder: Path) -> dict[str, list[dict[str, Any]]]:
    """``python -m streams offline`` in-process on ``lines`` (hashing embedder); its outputs as rows."""
    source = folder / "input.jsonl"
    source.write_bytes(b"".join(line + b"\n" for line in lines))
    paths = {name: folder / f"{name}.jsonl" for name in ("assignments", "alerts", "rejects", "stories")}
    argv = ["offline", "--input", str(source), "--no-progress", "--embedder", "hashing"]
    for name, path in paths.items():
        argv += [f"--{name}", str(path)]
    assert main(argv) == 0
    return {
        name: [json.loads(row) for row in path.read_text(encoding="utf-8").splitlines()]
        for name, path in paths.items()
    }


# ------------------------------------------------------------------------------ the far-future rule


def test_the_future_tolerance_is_inclusive() -> None:
    tolerance = WorkerSettings().max_future_seconds
    at_limit = NOW + timedelta(seconds=tolerance)
    inside, beyond = preparer().prepare(
        [
            InputMessage(published_at("edge/1", at_limit)),
            InputMessage(published_at("edge/2", at_limit + SECOND)),
        ]
    )
    assert isinstance(inside, EmbeddedArticle)
    assert isinstance(beyond, Rejection) and (beyond.reason, beyond.article_id) == (
        "future_timestamp",
        "edge/2",
    )
    assert "tolerated" in beyond.message


def test_the_tolerance_is_a_setting() -> None:
    strict = Settings(worker=WorkerSettings(max_future_seconds=0))
    soon = published_at("soon/1", NOW + SECOND)
    [result] = preparer(strict).prepare([InputMessage(soon)])
    assert isinstance(result, Rejection) and result.reason == "future_timestamp"
    [result] = preparer().prepare([InputMessage(soon)])
    assert isinstance(result, EmbeddedArticle)


SECOND = timedelta(seconds=1)


def published_at(article_id: str, when: datetime) -> bytes:
    return article(article_id, "زلزله در کرمان", (when - T0).total_seconds() / 60)


def test_a_far_future_article_does_not_expire_the_stories() -> None:
    # The defect this rule fixes: in arrival order, a year-2100 article moved the event clock ahead for
    # good, and the next article of a running story opened a new one (everything had expired).
    messages = [
        good_cases()[0].raw,
        bad_by_name("published_at in 2100").raw,
        good_cases()[1].raw,
    ]
    first, future, second = preparer().prepare([InputMessage(raw) for raw in messages])
    assert isinstance(future, Rejection) and future.reason == "future_timestamp"
    assert isinstance(first, EmbeddedArticle) and isinstance(second, EmbeddedArticle)
    tracker = Detector(SETTINGS, calibration=Calibration(EMBEDDER.default_threshold, centered=False))
    opened, joined = tracker.track(first).assignment, tracker.track(second).assignment
    assert opened is not None and joined is not None
    assert not joined.new_story and joined.story_id == opened.story_id


def bad_by_name(name: str) -> Case:
    [case] = [case for case in bad_cases() if case.name == name]
    return case


# ------------------------------------------------------------------------------------------- fuzzing

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
_GOOD = [case.raw for case in good_cases()]
_FIELDS = ("id", "text", "published_at", "source", "title", "url")
_TIMES = st.sampled_from(
    [
        "2026-03-02T06:00:00+00:00",
        "2026-03-01T06:00:00+03:30",
        "2100-01-01T00:00:00Z",
        "9999-12-31T23:59:59-12:00",
        "1970-01-01T00:00:00Z",
        "0001-01-01T00:00:00+00:00",
        "2026-03-02T06:00:00",
        "not a time",
        "",
    ]
) | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)


@st.composite
def mutated_article(draw: st.DrawFn) -> bytes:
    """A good article bent one of the ways real input goes wrong."""
    payload = json.loads(draw(st.sampled_from(_GOOD)))
    kind = draw(st.sampled_from(["truncate", "flip", "field", "drop", "time", "nest", "id", "ok"]))
    raw = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode()
    if kind == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    if kind == "field":
        payload[draw(st.sampled_from(_FIELDS))] = draw(_JSON)
    elif kind == "drop":
        payload.pop(draw(st.sampled_from(_FIELDS)), None)
    elif kind == "time":
        payload["published_at"] = draw(_TIMES)
    elif kind == "nest":
        depth = draw(st.integers(1, 3000))
        if depth > 500:  # beyond what any parser should recurse into
            return b"[" * depth + raw + b"]" * depth
        payload[draw(st.sampled_from(["extra", "text", "id"]))] = json.loads("[" * depth + "]" * depth)
    elif kind == "id":
        payload["id"] = draw(st.sampled_from(["quake/0", "quake/1", "fire/0", "x"]))
    return json.dumps(payload, ensure_ascii=draw(st.booleans())).encode("utf-8", errors="surrogatepass")


_MESSAGES = st.binary(max_size=300) | mutated_article() | _JSON.map(lambda value: json.dumps(value).encode())


@settings(max_examples=150)
@given(st.lists(_MESSAGES, max_size=12))
def test_any_batch_is_accepted_or_rejected_with_a_reason(messages: list[bytes]) -> None:
    run(messages)


def _one_line(raw: bytes) -> bytes:
    line = raw.replace(b"\n", b" ").replace(b"\r", b" ")
    return line if line.strip() else b"{}"


@settings(max_examples=25)
@given(lines=st.lists(_MESSAGES.map(_one_line), min_size=1, max_size=10))
def test_the_offline_command_accounts_for_every_line(
    lines: list[bytes], tmp_path_factory: pytest.TempPathFactory
) -> None:
    outputs = run_offline_cli(lines, tmp_path_factory.mktemp("offline"))
    rejects = outputs["rejects"]
    assert len(outputs["assignments"]) + len(rejects) == len(lines)
    assert len({row["input_offset"] for row in rejects}) == len(rejects)
    assert {row["input_offset"] for row in rejects} <= set(range(1, len(lines) + 1))
    assert all(row["reason"] in REASONS for row in rejects)
    members = [article_id for story in outputs["stories"] for article_id in story["article_ids"]]
    assert len(members) == len(set(members))


# -------------------------------------------------------------------------------------------- replay


class _Future:
    def __init__(self, error: Exception | None) -> None:
        self._error = error

    def add_errback(self, callback: Any) -> None:
        if self._error is not None:
            callback(self._error)


class _Producer:
    """Stands in for kafka-python's producer: records what was sent, refuses what ``refuse`` says."""

    def __init__(self, refuse: set[bytes] = frozenset()) -> None:  # type: ignore[assignment]
        self.sent: list[tuple[bytes, int | None]] = []
        self._refuse = refuse

    def send(self, topic: str, value: bytes, key: bytes | None, timestamp_ms: int | None) -> _Future:
        self.sent.append((value, timestamp_ms))
        return _Future(RuntimeError("InvalidTimestampError") if value in self._refuse else None)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_replay_sends_a_future_article_at_once_stamped_now(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.kafka.replay

    fake = _Producer()
    monkeypatch.setattr(streams.kafka.replay, "producer", lambda settings: fake)
    future = bad_by_name("published_at at the end of the calendar").raw
    items = streams.kafka.replay.replay_items([InputMessage(_GOOD[0]), InputMessage(future)])
    waits: list[float] = []
    streams.kafka.replay.replay_file(
        items, KafkaSettings(), speed=1.0, progress=False, sleep=waits.append, wall_clock=lambda: NOW
    )
    # A broker refuses timestamps far ahead; the worker rejects the article itself (future_timestamp).
    assert fake.sent == [(_GOOD[0], int(T0.timestamp() * 1000)), (future, int(NOW.timestamp() * 1000))]
    assert waits == []


def test_replay_fails_loudly_when_the_broker_refuses_a_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import streams.kafka.replay
    import streams.kafka.topics

    monkeypatch.setattr(streams.kafka.replay, "producer", lambda settings: _Producer(refuse={_GOOD[1]}))
    items = streams.kafka.replay.replay_items([InputMessage(raw) for raw in _GOOD])
    with pytest.raises(DeliveryError, match="1 of 7 messages were not delivered"):
        streams.kafka.replay.replay_file(items, KafkaSettings(), speed=None, progress=False)
    monkeypatch.setattr(streams.kafka.topics, "ensure_topics", lambda settings: [])
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(_GOOD))
    assert main(["replay", str(source), "--max-rate", "--no-progress"]) == 1
    assert "not delivered" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ security

_UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"}


def test_no_module_of_streams_deserializes_with_pickle() -> None:
    # Untrusted input enters only through JSON parsing (records.parse_article, pydantic's JSON mode).
    offenders = []
    for path in sorted((REPO / "streams").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO)}: {name}" for name in names if name.split(".")[0] in _UNSAFE_MODULES
            ]
            if isinstance(node, ast.Constant) and node.value in ("pickle", "pickle://"):
                offenders.append(f"{path.relative_to(REPO)}: the string {node.value!r} (a faust codec?)")
    assert offenders == []


def test_the_worker_reads_and_writes_raw_bytes_only() -> None:
    from streams.kafka.app import create_app

    app = create_app(Settings(embedder=Settings().embedder.model_copy(update={"backend": "hashing"})))
    assert (app.conf.key_serializer, app.conf.value_serializer) == ("raw", "raw")
    topics = [agent.channel for agent in app.agents.values()]
    assert topics, "the app has no agents"
    for topic in topics:
        assert (topic.key_serializer, topic.value_serializer) == ("raw", "raw"), topic


def test_the_web_port_binds_to_the_configured_address() -> None:
    from streams.kafka.app import create_app

    settings = Settings(
        embedder=Settings().embedder.model_copy(update={"backend": "hashing"}),
        worker=WorkerSettings(web_host="127.0.0.9", web_port=16066),
    )
    app = create_app(settings)
    assert (app.conf.web_bind, app.conf.web_port) == ("127.0.0.9", 16066)
    assert WorkerSettings().web_host == "127.0.0.1", "the default must not listen beyond loopback"


SECRET = "s3cret-Pa55word"
SASL = KafkaSettings(
    bootstrap_servers="b1:9093,b2:9093",
    security_protocol="SASL_SSL",
    sasl_mechanism="SCRAM-SHA-512",
    sasl_username="streams",
    sasl_password=SECRET,  # type: ignore[arg-type]
    ssl_cafile="/etc/ca.pem",
)


def test_security_settings_reach_both_kafka_clients() -> None:
    from streams.kafka.app import _broker_credentials
    from streams.kafka.clients import client_options

    options = client_options(SASL)
    assert options == {
        "bootstrap_servers": ["b1:9093", "b2:9093"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "streams",
        "sasl_plain_password": SECRET,
        "ssl_cafile": "/etc/ca.pem",
    }
    # faust/aiokafka: the same login, over TLS with the configured CA file.
    certifi = pytest.importorskip("certifi")
    credentials = _broker_credentials(SASL.model_copy(update={"ssl_cafile": certifi.where()}))
    assert (credentials.username, credentials.password, credentials.mechanism.value) == (
        "streams",
        SECRET,
        "SCRAM-SHA-512",
    )
    assert credentials.ssl_context is not None


def test_the_password_is_never_printed() -> None:
    from streams.kafka.clients import describe_connection

    for text in (repr(SASL), str(SASL), repr(Settings(kafka=SASL)), describe_connection(SASL)):
        assert SECRET not in text
    assert "SCRAM-SHA-512 as user 'streams'" in describe_connection(SASL)
