"""streams/metrics.py: what the worker counts, with bounded labels, on an injected registry and clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from support.metric_names import exported_names

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.preparation import ArticlePreparer
from streams.metrics import (
    OTHER_SOURCE,
    PRODUCED_AT_HEADER,
    RECEIVED_AT_HEADER,
    UNKNOWN_SOURCE,
    SourceLabels,
    StreamsMetrics,
    Trace,
)
from streams.settings import AlertSettings, Settings, TrackerSettings

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
QUAKE = [
    "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند",
    "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "زلزله شدید ۵.۸ ریشتری شهرستان راور کرمان را لرزاند",
]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_metrics(clock: Clock | None = None, sources: SourceLabels | None = None) -> StreamsMetrics:
    return StreamsMetrics(CollectorRegistry(), sources, wall_clock=clock or Clock(T0.timestamp()))


def value(metrics: StreamsMetrics, name: str, **labels: str) -> float:
    sample = metrics.registry.get_sample_value(name, labels)
    return 0.0 if sample is None else sample


def message(article_id: str, text: str, source: str | None = "s1", minutes: float = 0) -> bytes:
    payload: dict[str, Any] = {
        "id": article_id,
        "text": text,
        "published_at": (T0 + timedelta(minutes=minutes)).isoformat(),
    }
    if source is not None:
        payload["source"] = source
    return json.dumps(payload, ensure_ascii=False).encode()


# ---------------------------------------------------------------- source labels


def test_source_labels_keep_the_first_sources_and_fold_the_rest_into_other() -> None:
    labels = SourceLabels(limit=2)
    assert [labels(s) for s in ("a", "b", "c", "a", "b", "d")] == [
        "a",
        "b",
        OTHER_SOURCE,
        "a",
        "b",
        OTHER_SOURCE,
    ]
    assert labels(None) == labels("") == UNKNOWN_SOURCE


def test_known_sources_get_labels_and_nothing_else_does() -> None:
    labels = SourceLabels(known=["irna", "isna"], limit=1)
    assert [labels(s) for s in ("isna", "tasnim", "irna")] == ["isna", OTHER_SOURCE, "irna"]


def test_source_label_cardinality_is_bounded_whatever_the_input() -> None:
    metrics = new_metrics(sources=SourceLabels(limit=5))
    preparer = ArticlePreparer(Settings(), HashingEmbedder(64))
    messages = [
        InputMessage(message(f"id-{i}", QUAKE[0], source=f"channel-{i}" + "x" * 200)) for i in range(40)
    ]
    metrics.observe_prepared(messages, preparer.prepare(messages))
    exposition = generate_latest(metrics.registry).decode()
    series = [line for line in exposition.splitlines() if line.startswith("streams_articles_consumed_total{")]
    assert len(series) == 6  # five sources and "other"
    assert value(metrics, "streams_articles_consumed_total", source=OTHER_SOURCE) == 35
    assert all(len(line) < 200 for line in series), "long source names are cut"


# ---------------------------------------------------------------- stateless stage


def test_prepared_batches_count_every_message_by_source_and_rejections_by_reason() -> None:
    metrics = new_metrics()
    preparer = ArticlePreparer(Settings(), metrics.timed(HashingEmbedder(64)))
    messages = [
        InputMessage(message("a", QUAKE[0], source="irna")),
        InputMessage(message("b", QUAKE[1], source="isna")),
        InputMessage(message("c", "Breaking news in English only, nothing Persian here", source="isna")),
        InputMessage(message("d", QUAKE[2], source=None)),
        InputMessage(b'{"id": "e", "text": '),
    ]
    results = preparer.prepare(messages)
    metrics.observe_prepared(messages, results)

    assert value(metrics, "streams_articles_consumed_total", source="irna") == 1
    assert value(metrics, "streams_articles_consumed_total", source="isna") == 2  # one accepted, one rejected
    assert value(metrics, "streams_articles_consumed_total", source=UNKNOWN_SOURCE) == 2
    assert value(metrics, "streams_articles_rejected_total", reason="not_persian") == 1
    assert value(metrics, "streams_articles_rejected_total", reason="malformed_json") == 1
    assert (
        value(metrics, "streams_articles_rejected_total", reason="duplicate_id") == 0
    )  # exported from the start
    # One model call for the three accepted texts.
    assert value(metrics, "streams_embedding_batch_size_count") == 1
    assert value(metrics, "streams_embedding_batch_size_sum") == 3
    assert value(metrics, "streams_embedding_duration_seconds_count") == 1


def test_a_batch_with_nothing_to_embed_is_not_timed() -> None:
    metrics = new_metrics()
    embedder = metrics.timed(HashingEmbedder(64))
    assert embedder.embed([]).shape[0] == 0
    assert value(metrics, "streams_embedding_batch_size_count") == 0
    assert (embedder.name, embedder.dimension) == (HashingEmbedder(64).name, 64)


def test_oversized_messages_are_not_parsed_for_their_source() -> None:
    settings = Settings().model_copy(
        update={"kafka": Settings().kafka.model_copy(update={"max_message_bytes": 100})}
    )
    metrics = new_metrics()
    messages = [InputMessage(message("big", QUAKE[0] * 5, source="irna"))]
    metrics.observe_prepared(messages, ArticlePreparer(settings, HashingEmbedder(64)).prepare(messages))
    assert value(metrics, "streams_articles_rejected_total", reason="too_large") == 1
    assert value(metrics, "streams_articles_consumed_total", source=UNKNOWN_SOURCE) == 1


# ---------------------------------------------------------------- tracker


def track_all(metrics: StreamsMetrics, traces: list[Trace | None]) -> None:
    settings = Settings(
        tracker=TrackerSettings(lexical_weight=0.0), alerts=AlertSettings(min_articles=3, min_sources=2)
    )
    preparer = ArticlePreparer(settings, HashingEmbedder(256))
    sources = ["irna", "isna", "irna"]
    messages = [
        InputMessage(message(f"q{i}", text, source=sources[i], minutes=10 * i))
        for i, text in enumerate(QUAKE)
    ]
    articles = preparer.prepare(messages)
    detector = Detector(settings, calibration=Calibration(HashingEmbedder.default_threshold, centered=False))
    for article, trace in zip(articles, traces, strict=True):
        assert not hasattr(article, "reason")
        result = detector.track(article)  # type: ignore[arg-type]
        metrics.observe_emitted(result, trace)
        metrics.observe_tracker_state(detector.active_stories, buffered=0)
    # The same article again: a duplicate, refused by the tracker.
    metrics.observe_emitted(detector.track(articles[0]), None)  # type: ignore[arg-type]


def test_tracked_articles_count_stories_alerts_and_duplicates() -> None:
    metrics = new_metrics()
    track_all(metrics, [None, None, None])
    assert value(metrics, "streams_articles_tracked_total") == 3
    assert value(metrics, "streams_stories_created_total") == 1
    assert value(metrics, "streams_active_stories") == 1
    assert value(metrics, "streams_alerts_sent_total", type="emerging") == 1
    assert value(metrics, "streams_articles_rejected_total", reason="duplicate_id") == 1
    assert value(metrics, "streams_tracker_event_time_seconds") == (T0 + timedelta(minutes=20)).timestamp()


def test_lags_and_latencies_use_the_injected_wall_clock() -> None:
    clock = Clock((T0 + timedelta(hours=1)).timestamp())
    metrics = new_metrics(clock)
    produced, received = clock.now - 30, clock.now - 2
    track_all(metrics, [Trace(produced, received), Trace(None, received), None])
    # Event-time lag: 60, 50 and 40 minutes (the articles were published at +0, +10, +20 minutes).
    assert value(metrics, "streams_event_time_lag_seconds_count") == 3
    assert value(metrics, "streams_event_time_lag_seconds_sum") == pytest.approx(150 * 60)
    # Processing latency where the trace is known; end-to-end only where the Kafka timestamp is too.
    assert value(metrics, "streams_processing_latency_seconds_count") == 2
    assert value(metrics, "streams_processing_latency_seconds_sum") == pytest.approx(4)
    assert value(metrics, "streams_end_to_end_latency_seconds_count") == 1
    assert value(metrics, "streams_end_to_end_latency_seconds_sum") == pytest.approx(30)


def test_articles_from_the_future_do_not_make_negative_lags() -> None:
    metrics = new_metrics(Clock(T0.timestamp() - 3600))
    track_all(metrics, [Trace(T0.timestamp(), T0.timestamp()), None, None])
    assert value(metrics, "streams_event_time_lag_seconds_sum") == 0
    assert value(metrics, "streams_end_to_end_latency_seconds_sum") == 0


def test_traces_travel_in_kafka_headers() -> None:
    trace = Trace(produced_at=1772420400.123, received_at=1772420401.5)
    assert Trace.from_headers(trace.to_headers()) == trace
    assert Trace.from_headers(Trace(None, 5.0).to_headers()) == Trace(None, 5.0)
    assert Trace.from_headers(None) is None
    assert Trace.from_headers({}) is None
    assert Trace.from_headers({PRODUCED_AT_HEADER: b"1"}) is None
    assert Trace.from_headers({RECEIVED_AT_HEADER: b"\xff"}) is None
    assert Trace.from_headers({RECEIVED_AT_HEADER: b"2", PRODUCED_AT_HEADER: b"x"}) == Trace(None, 2.0)


# ---------------------------------------------------------------- consumer lag


def test_consumer_lag_per_partition_and_revoked_partitions_disappear() -> None:
    metrics = new_metrics()
    metrics.update_consumer_lag(
        {("p.articles", 0): (10, 25), ("p.articles", 1): (None, 5), ("p.e", 0): (7, 7)}
    )
    assert value(metrics, "streams_consumer_lag_messages", topic="p.articles", partition="0") == 15
    assert value(metrics, "streams_consumer_lag_messages", topic="p.e", partition="0") == 0
    assert (
        metrics.registry.get_sample_value(
            "streams_consumer_lag_messages", {"topic": "p.articles", "partition": "1"}
        )
        is None
    ), "unknown offsets are not guessed"
    # A rebalance moved partition 0 elsewhere: this worker stops reporting it.
    metrics.update_consumer_lag({("p.e", 0): (7, 9)})
    assert (
        metrics.registry.get_sample_value(
            "streams_consumer_lag_messages", {"topic": "p.articles", "partition": "0"}
        )
        is None
    )
    assert value(metrics, "streams_consumer_lag_messages", topic="p.e", partition="0") == 2


def test_consumer_offsets_are_read_from_the_faust_consumer() -> None:
    from faust.types import TP

    from streams.kafka.app import _consumer_offsets

    class Consumer:
        def __init__(self) -> None:
            # Faust's bookkeeping: committed offsets by partition (None until the group commits one).
            self._committed_offset = {TP("t", 0): 3}

        def assignment(self) -> set[TP]:
            return {TP("t", 0), TP("t", 1), TP("faust-internal", 0)}

        def highwater(self, tp: TP) -> int:
            return 10 + tp.partition

    app: Any = SimpleNamespace(consumer=Consumer())
    assert _consumer_offsets(app, ("t",)) == {("t", 0): (3, 10), ("t", 1): (None, 11)}


# ---------------------------------------------------------------- registry


def test_bundles_on_their_own_registries_do_not_collide() -> None:
    first, second = StreamsMetrics.create(), StreamsMetrics.create()
    assert first.registry is not second.registry


def test_exported_names_include_every_sample_suffix() -> None:
    names = exported_names(new_metrics().registry)
    assert {"streams_articles_consumed_total", "streams_active_stories"} <= names
    assert {"streams_embedding_duration_seconds_bucket", "streams_embedding_duration_seconds_count"} <= names
    assert "streams_consumer_lag_messages" in names  # labelled, no child yet: still exported by name
    assert "process_cpu_seconds_total" in names or "python_info" in names
