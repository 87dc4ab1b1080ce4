"""The worker's Prometheus metrics: declared here, in one place, against an injectable registry.

``streams/app.py`` creates one ``StreamsMetrics`` per app, observes around the domain calls (the domain
modules stay metric-free) and serves the registry on the worker's web port at ``/metrics``, together with
faust's own sensors (``setup_prometheus_sensors``), which it registers under the fixed prefix
``FAUST_PREFIX`` so that dashboards do not depend on the app id.

Conventions (https://prometheus.io/docs/practices/naming/): base units (seconds), ``_total`` on counters
(prometheus_client appends it), and label values from small, fixed sets: reason codes, alert types, topic
partitions, and at most ``max_sources`` source names. Never a story or article id: every label value is a
time series that Prometheus keeps for its whole retention.

Three clocks, on purpose: event-time lag is the wall clock minus ``published_at`` (how stale the output is);
end-to-end latency is the wall clock minus the input message's Kafka timestamp (its produce time, as
producers and the broker stamp it); processing latency is the wall clock minus the moment the worker read the
message. ``streams replay`` stamps messages with ``published_at``, so during a replay the end-to-end figure
equals the event-time lag and only the processing latency measures the pipeline itself.
"""

from __future__ import annotations

import json
import time
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from streams.core.detector import TrackResult
from streams.core.embedding import Embedder, Matrix, WrappedEmbedder
from streams.core.messages import InputMessage
from streams.errors import RejectReason
from streams.records import Alert, EmbeddedArticle, Rejection

#: Prefix of faust's sensor metrics (``faust_messages_received_total``, ``faust_topic_messages_sent_total``,
#: ...). Faust's default is the app id, which differs between deployments and test runs.
FAUST_PREFIX = "faust"

#: Label of an article without a source, and of sources beyond the label budget.
UNKNOWN_SOURCE = "unknown"
OTHER_SOURCE = "other"
#: Longer source names are cut: label values are kept in memory by every scraper.
MAX_SOURCE_LABEL_CHARS = 64

ALERT_TYPES: tuple[str, ...] = typing.get_args(Alert.model_fields["type"].annotation)

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0
EMBEDDING_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
TRACKER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 15 * _MINUTE)
LATENCY_BUCKETS_LONG = (*LATENCY_BUCKETS, _HOUR, 6 * _HOUR, _DAY)
# Event-time lag spans seconds (live) to months (a replay of old news): the top buckets say which.
EVENT_LAG_BUCKETS = (
    *(1.0, 10.0, 30.0, _MINUTE, 5 * _MINUTE, 15 * _MINUTE, _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR),
    *(_DAY, 2 * _DAY, 7 * _DAY, 30 * _DAY, 90 * _DAY, 365 * _DAY),
)

#: Kafka headers that carry an article's ``Trace`` from the stateless stage to the tracker.
PRODUCED_AT_HEADER = "streams-produced-at"
RECEIVED_AT_HEADER = "streams-received-at"

#: (topic, partition) -> (committed offset, high watermark); None where the consumer does not know it yet.
PartitionOffsets = Mapping[tuple[str, int], tuple[int | None, int | None]]


class SourceLabels:
    """Maps an article's free-text ``source`` to a label value from a bounded set.

    Sources come from the input, so an unbounded label would let producers create any number of time series.
    With ``known`` sources only those get their own label; without, the first ``limit`` distinct sources
    this process sees do (the steady, high-volume feeds show up first), and every later one counts as
    ``other``. At most ``limit + 2`` series per worker either way.
    """

    def __init__(self, known: Iterable[str] = (), limit: int = 50) -> None:
        self._known = frozenset(source[:MAX_SOURCE_LABEL_CHARS] for source in known if source)
        self._limit = limit
        self._seen: set[str] = set()

    def __call__(self, source: str | None) -> str:
        if not source:
            return UNKNOWN_SOURCE
        label = source[:MAX_SOURCE_LABEL_CHARS]
        if self._known:
            return label if label in self._known else OTHER_SOURCE
        if label in self._seen:
            return label
        if len(self._seen) < self._limit:
            self._seen.add(label)
            return label
        return OTHER_SOURCE


@dataclass(frozen=True, slots=True)
class Trace:
    """When an input message was produced (its Kafka timestamp) and when the worker read it, in Unix
    seconds of the wall clock. Carried in Kafka headers from the stateless stage to the tracker, which may
    run in another worker."""

    produced_at: float | None
    received_at: float

    def to_headers(self) -> dict[str, bytes]:
        headers = {RECEIVED_AT_HEADER: repr(self.received_at).encode("ascii")}
        if self.produced_at is not None:
            headers[PRODUCED_AT_HEADER] = repr(self.produced_at).encode("ascii")
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, bytes] | None) -> Trace | None:
        """The trace in ``headers``; None when absent or unreadable (records from elsewhere)."""
        if not headers:
            return None
        received_at = _float_header(headers.get(RECEIVED_AT_HEADER))
        if received_at is None:
            return None
        return cls(produced_at=_float_header(headers.get(PRODUCED_AT_HEADER)), received_at=received_at)


def _float_header(value: bytes | None) -> float | None:
    if not value:
        return None
    try:
        return float(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None


def _peek_source(raw: bytes) -> str | None:
    """The ``source`` of a rejected message, when it is readable JSON at all."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    source = payload.get("source") if isinstance(payload, dict) else None
    return source if isinstance(source, str) else None


class StreamsMetrics:
    """Every metric the worker exports (besides faust's), and how the edges observe them."""

    def __init__(
        self,
        registry: CollectorRegistry,
        sources: SourceLabels | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.sources = sources or SourceLabels()
        self._wall_clock = wall_clock
        self._lag_partitions: set[tuple[str, str]] = set()

        def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        def histogram(name: str, doc: str, buckets: Sequence[float]) -> Histogram:
            return Histogram(name, doc, buckets=buckets, registry=registry)

        self.articles_consumed = counter(
            "streams_articles_consumed",
            "Input messages read by the stateless stage, by source (accepted and rejected alike)",
            ["source"],
        )
        self.articles_rejected = counter(
            "streams_articles_rejected", "Messages sent to the dead-letter topic, by reason code", ["reason"]
        )
        self.embedding_duration = histogram(
            "streams_embedding_duration_seconds", "Time to embed one batch of texts", EMBEDDING_BUCKETS
        )
        self.embedding_batch_size = histogram(
            "streams_embedding_batch_size", "Texts per embedding batch", BATCH_SIZE_BUCKETS
        )
        self.tracker_duration = histogram(
            "streams_tracker_duration_seconds",
            "Time the story tracker takes for one article (assign, score, alert)",
            TRACKER_BUCKETS,
        )
        self.articles_tracked = counter(
            "streams_articles_tracked", "Articles the tracker assigned to a story (its assignments sent)"
        )
        self.active_stories = gauge(
            "streams_active_stories", "Stories open in the tracker (an article within the story window)"
        )
        self.stories_created = counter("streams_stories_created", "Stories the tracker opened")
        self.alerts_sent = counter("streams_alerts_sent", "Alerts sent, by alert type", ["type"])
        self.reorder_buffered = gauge(
            "streams_reorder_buffer_articles",
            "Articles the tracker holds back until every input partition has passed their event time",
        )
        self.articles_late = counter(
            "streams_articles_late",
            "Articles that reached the tracker's reorder buffer after it had released later event times: "
            "tracked out of canonical order, so the live result may differ from the offline one",
        )
        self.tracker_event_time = gauge(
            "streams_tracker_event_time_seconds",
            "Event time (published_at, Unix seconds) of the last article the tracker assigned",
        )
        self.event_time_lag = histogram(
            "streams_event_time_lag_seconds",
            "Wall clock minus published_at when an article's assignment is sent",
            EVENT_LAG_BUCKETS,
        )
        self.end_to_end_latency = histogram(
            "streams_end_to_end_latency_seconds",
            "Input message's Kafka timestamp to its assignment being sent (equals the event-time lag during "
            "a replay, which stamps published_at)",
            LATENCY_BUCKETS_LONG,
        )
        self.processing_latency = histogram(
            "streams_processing_latency_seconds",
            "The worker reading an input message to its assignment being sent (embedding, the hop to the "
            "tracker, event-time reordering, tracking)",
            LATENCY_BUCKETS,
        )
        self.articles_redelivered = counter(
            "streams_articles_redelivered",
            "Tracker input skipped as delivered again after a restart or rebalance (already in its state)",
        )
        self.checkpoints_written = counter(
            "streams_tracker_checkpoints", "Checkpoints of the story tracker's state written to Kafka"
        )
        self.consumer_lag = gauge(
            "streams_consumer_lag_messages",
            "High watermark minus committed offset of each input partition this worker owns",
            ["topic", "partition"],
        )
        # Every reason and alert type from the start: rates read 0 instead of "no data".
        for reason in RejectReason:
            self.articles_rejected.labels(reason=reason.value)
        for alert_type in ALERT_TYPES:
            self.alerts_sent.labels(type=alert_type)
        # CPU, memory, open files (process_*) and the Python version (python_info) of the worker.
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)

    @classmethod
    def create(
        cls,
        registry: CollectorRegistry | None = None,
        known_sources: Iterable[str] = (),
        max_sources: int = 50,
    ) -> StreamsMetrics:
        """A bundle on ``registry`` (default: a new one, so several apps in one process do not collide)."""
        return cls(registry or CollectorRegistry(), SourceLabels(known_sources, max_sources))

    def now(self) -> float:
        return self._wall_clock()

    # ------------------------------------------------------------- stateless stage

    def timed(self, embedder: Embedder) -> Embedder:
        """``embedder`` with its batches timed and counted."""
        return TimedEmbedder(embedder, self)

    def observe_prepared(
        self, messages: Sequence[InputMessage], results: Sequence[EmbeddedArticle | Rejection]
    ) -> None:
        """Count one prepared batch: every message by source, rejections by reason."""
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, Rejection):
                # An oversized message is never parsed: that is what the limit protects.
                source = None if result.reason is RejectReason.TOO_LARGE else _peek_source(message.raw)
                self.articles_rejected.labels(reason=result.reason.value).inc()
            else:
                source = result.source
            self.articles_consumed.labels(source=self.sources(source)).inc()

    # ------------------------------------------------------------- tracker

    def observe_emitted(self, result: TrackResult, trace: Trace | None) -> None:
        """Count what one tracked article caused, once it has been sent."""
        if result.rejection is not None:
            self.articles_rejected.labels(reason=result.rejection.reason.value).inc()
        for alert in result.alerts:
            self.alerts_sent.labels(type=alert.type).inc()
        assignment = result.assignment
        if assignment is None:
            return
        now = self.now()
        self.articles_tracked.inc()
        if assignment.new_story:
            self.stories_created.inc()
        published = assignment.published_at.timestamp()
        self.tracker_event_time.set(published)
        self.event_time_lag.observe(max(0.0, now - published))
        if trace is not None:
            self.processing_latency.observe(max(0.0, now - trace.received_at))
            if trace.produced_at is not None:
                self.end_to_end_latency.observe(max(0.0, now - trace.produced_at))

    def observe_late(self, count: int) -> None:
        """``count`` more articles reached the reorder buffer too late (its ``late_count`` grew by that)."""
        if count > 0:
            self.articles_late.inc(count)

    def observe_tracker_state(self, active_stories: int, buffered: int) -> None:
        self.active_stories.set(active_stories)
        self.reorder_buffered.set(buffered)

    # ------------------------------------------------------------- consumer lag

    def update_consumer_lag(self, offsets: PartitionOffsets) -> None:
        """Set the lag of every partition with known offsets; drop partitions this worker no longer owns
        (after a rebalance another worker reports them)."""
        current: set[tuple[str, str]] = set()
        for (topic, partition), (committed, highwater) in offsets.items():
            if committed is None or highwater is None:
                continue
            labels = (topic, str(partition))
            self.consumer_lag.labels(*labels).set(max(0, highwater - committed))
            current.add(labels)
        for labels in self._lag_partitions - current:
            self.consumer_lag.remove(*labels)
        self._lag_partitions = current


class TimedEmbedder(WrappedEmbedder):
    """An ``Embedder`` that observes each non-empty batch's duration and size."""

    def __init__(self, inner: Embedder, metrics: StreamsMetrics) -> None:
        super().__init__(inner)
        self._metrics = metrics

    def embed(self, texts: Sequence[str]) -> Matrix:
        if not texts:  # a batch whose messages were all rejected: no model work to measure
            return self._inner.embed(texts)
        with self._metrics.embedding_duration.time():
            vectors = self._inner.embed(texts)
        self._metrics.embedding_batch_size.observe(len(texts))
        return vectors
