"""The Faust app: a thin edge around the Detector (the only module that imports faust).

Topology::

    articles (N partitions) --prepare_articles--> articles.embedded (1 partition) --track_stories-->
        \\-> articles.rejected                            assignments, stories, alerts, articles.rejected

``prepare_articles`` is stateless and scales out with more workers and partitions; ``track_stories`` is the
single owner of the global story view. CPU work (normalization, embedding) runs in a worker thread so the
event loop keeps heartbeating and committing.

Metrics (``streams/metrics.py``) are observed here, around the domain calls, and served with faust's own
sensors on the web port at ``/metrics``.

``faust -A streams.app worker`` finds the module attribute ``app``, built on first access from the
environment (``STREAMS_*``); ``python -m streams worker`` does the same after creating the topics.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import CollectorRegistry

from streams.checkpoint import CHECKPOINT_KEY
from streams.checkpoint_store import read_latest_checkpoint, read_range
from streams.embedding import Embedder, create_embedder
from streams.metrics import FAUST_PREFIX, PartitionOffsets, StreamsMetrics, Trace
from streams.pipeline import ArticlePreparer, InputMessage, TrackResult
from streams.records import EmbeddedArticle, Rejection
from streams.settings import KafkaSettings, Settings
from streams.topics import TopicNames
from streams.tracker_stage import Held, TrackerStage

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[Settings], Embedder]


def _broker_credentials(kafka: KafkaSettings) -> faust.auth.Credentials | None:
    ssl_context: ssl.SSLContext | None = None
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        ssl_context = ssl.create_default_context(cafile=kafka.ssl_cafile)
        if kafka.ssl_certfile:
            ssl_context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile)
    if kafka.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value() if kafka.sasl_password else None,
            mechanism=kafka.sasl_mechanism or "PLAIN",
            ssl_context=ssl_context,
        )
    if ssl_context is not None:
        return faust.SSLCredentials(ssl_context)
    return None


class _Stages:
    """The Detector's two stages, built lazily inside the worker (the model loads once, off the loop)."""

    def __init__(
        self, settings: Settings, embedder_factory: EmbedderFactory, metrics: StreamsMetrics
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self._embedder_factory = embedder_factory
        self._preparer: ArticlePreparer | None = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        self.tracker: TrackerStage[Trace] = self.new_tracker()

    def new_tracker(self) -> TrackerStage[Trace]:
        # The tracker needs no model, only the dimension and the embedder's calibrated defaults.
        threshold, centered = embedder_defaults(self.settings)
        return TrackerStage(self.settings, threshold, centered)

    async def preparer(self) -> ArticlePreparer:
        if self._preparer is None:
            loop = asyncio.get_running_loop()
            embedder = await loop.run_in_executor(self.executor, self._embedder_factory, self.settings)
            self._preparer = ArticlePreparer(self.settings, self.metrics.timed(embedder))
            log.info("embedder ready: %s (dimension %d)", embedder.name, embedder.dimension)
        return self._preparer

    def prepare(self, messages: Sequence[InputMessage]) -> list[EmbeddedArticle | Rejection]:
        """One batch through the stateless stage, counted (runs in the executor, off the loop)."""
        assert self._preparer is not None, "await preparer() first"
        results = self._preparer.prepare(messages)
        self.metrics.observe_prepared(messages, results)
        return results

    @property
    def active_stories(self) -> int:
        return self.tracker.active_stories


def embedder_defaults(settings: Settings) -> tuple[float, bool]:
    """(default threshold, centered) of the configured backend, without loading its model."""
    from streams import embedding

    if settings.embedder.backend == "e5":
        return embedding.E5Embedder.default_threshold, embedding.E5Embedder.centered
    if settings.embedder.backend == "hashing":
        return embedding.HashingEmbedder.default_threshold, embedding.HashingEmbedder.centered
    declared = embedding.model_defaults(settings.embedder.model)
    return declared.threshold, declared.centered


def _consumer_offsets(app: faust.App, topics: Collection[str]) -> PartitionOffsets:
    """Committed offset and high watermark of each partition of ``topics`` this worker consumes, from the
    consumer's own bookkeeping (no broker round trip). Faust has no lag metric of its own."""
    consumer = app.consumer
    # Faust keeps the group's committed offsets here (read at assignment, updated at every commit) and
    # offers no public accessor; without it (another driver) there is no lag to report.
    committed = getattr(consumer, "_committed_offset", None)
    if committed is None:
        return {}
    try:
        return {
            (tp.topic, tp.partition): (committed.get(tp), consumer.highwater(tp))
            for tp in consumer.assignment()
            if tp.topic in topics
        }
    except ConsumerNotStarted:
        return {}


def _serve_metrics(app: faust.App, metrics: StreamsMetrics) -> None:
    """Faust's sensors into the same registry, and the registry on the web port at /metrics."""
    setup_prometheus_sensors(app, pattern="/metrics", registry=metrics.registry, name_prefix=FAUST_PREFIX)


def create_app(
    settings: Settings | None = None,
    embedder_factory: EmbedderFactory | None = None,
    registry: CollectorRegistry | None = None,
) -> faust.App:
    """Build the worker app and its agents for ``settings`` (default: from the environment).

    Metrics go to ``registry`` (default: a new one per app).
    """
    settings = settings or Settings()
    kafka = settings.kafka
    names = TopicNames.from_prefix(kafka.topic_prefix)
    app = faust.App(
        settings.worker.app_id,
        broker=";".join(f"kafka://{server}" for server in kafka.bootstrap_servers.split(",")),
        broker_credentials=_broker_credentials(kafka),
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=settings.worker.data_dir,
        web_host=settings.worker.web_host,
        web_bind=settings.worker.web_host,
        web_port=settings.worker.web_port,
        topic_replication_factor=kafka.replication_factor,
        producer_max_request_size=kafka.max_message_bytes + 1024 * 1024,
        consumer_max_fetch_size=kafka.max_message_bytes + 1024 * 1024,
        producer_acks=-1,
        broker_session_timeout=settings.worker.session_timeout_seconds,
        # A crashed member is dropped from a rebalance no later than a silent one.
        broker_rebalance_timeout=settings.worker.session_timeout_seconds,
    )
    metrics = StreamsMetrics.create(
        registry, settings.metrics.known_sources(), max_sources=settings.metrics.max_sources
    )
    _serve_metrics(app, metrics)
    stages = _Stages(settings, embedder_factory or (lambda s: create_embedder(s.embedder)), metrics)

    def topic(name: str, partitions: int) -> faust.TopicT:
        return app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")

    articles = topic(names.articles, kafka.articles_partitions)
    embedded = topic(names.embedded, 1)
    assignments = topic(names.assignments, 1)
    stories = topic(names.stories, 1)
    alerts = topic(names.alerts, 1)
    rejected = topic(names.rejected, 1)
    checkpoints = topic(names.checkpoints, 1)

    async def send_rejection(rejection: Rejection) -> None:
        key = rejection.article_id.encode("utf-8") if rejection.article_id else None
        await rejected.send(key=key, value=rejection.to_json_bytes())

    async def emit(result: TrackResult, trace: Trace | None) -> None:
        if result.rejection is not None:
            await send_rejection(result.rejection)
        if result.assignment is not None:
            await assignments.send(key=result.assignment.id.encode(), value=result.assignment.to_json_bytes())
        for snapshot in result.snapshots:
            await stories.send(key=snapshot.story_id.encode(), value=snapshot.to_json_bytes())
        for alert in result.alerts:
            await alerts.send(key=alert.story_id.encode(), value=alert.to_json_bytes())
            log.info("alert %s: %s", alert.alert_id, alert.headline)
        metrics.observe_emitted(result, trace)

    @app.agent(articles, name="prepare_articles")
    async def prepare_articles(stream: faust.StreamT[bytes]) -> None:
        await stages.preparer()
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(  # type: ignore[attr-defined]  # missing from StreamT
            settings.worker.embed_batch_size, within=settings.worker.embed_batch_seconds
        ):
            received_at = metrics.now()
            messages = [
                InputMessage(
                    raw=event.value if isinstance(event.value, bytes) else b"",
                    partition=event.message.partition,
                    offset=event.message.offset,
                )
                for event in events
            ]
            results = await loop.run_in_executor(stages.executor, stages.prepare, messages)
            for event, prepared in zip(events, results, strict=True):
                if isinstance(prepared, Rejection):
                    await send_rejection(prepared)
                else:
                    # The message's Kafka timestamp and read time travel to the tracker in headers.
                    trace = Trace(produced_at=event.message.timestamp, received_at=received_at)
                    await embedded.send(
                        key=prepared.id.encode(), value=prepared.to_json_bytes(), headers=trace.to_headers()
                    )

    def track(released: list[Held[Trace]]) -> list[tuple[TrackResult, Trace | None]]:
        # Synchronous on purpose: the agent and the idle timer never interleave inside a release.
        outcomes = []
        for item in released:
            with metrics.tracker_duration.time():
                result = stages.tracker.track(item.article)
            outcomes.append((result, item.extra))
        metrics.observe_tracker_state(stages.active_stories, len(stages.tracker.buffer))
        return outcomes

    async def accept(offset: int, raw: bytes, trace: Trace | None) -> None:
        redelivered = stages.tracker.redelivered
        outcome = stages.tracker.accept(offset, raw, trace)
        metrics.articles_redelivered.inc(stages.tracker.redelivered - redelivered)
        if isinstance(outcome, Rejection):
            await send_rejection(outcome)
        elif outcome is not None:
            for result, result_trace in track(outcome):
                await emit(result, result_trace)

    async def recover(first_offset: int) -> None:
        """Before the first message: restore the newest checkpoint and re-process what followed it."""
        loop = asyncio.get_running_loop()
        records = await loop.run_in_executor(
            None,
            stages.tracker.recover,
            first_offset,
            lambda: read_latest_checkpoint(kafka, names.checkpoints),
            lambda start, end: read_range(kafka, names.embedded, start, end),
        )
        for offset, raw in records:
            await accept(offset, raw, None)

    async def write_checkpoint() -> None:
        # Everything emitted so far must be on the broker before a checkpoint says it was processed.
        await app.producer.flush()
        checkpoint = stages.tracker.checkpoint_state()
        value = await asyncio.get_running_loop().run_in_executor(None, checkpoint.to_bytes)
        await checkpoints.send(key=CHECKPOINT_KEY, value=value)
        metrics.checkpoints_written.inc()
        log.info("tracker checkpoint at input offset %d (%d bytes)", checkpoint.offset, len(value))

    @app.agent(embedded, name="track_stories")
    async def track_stories(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            if not stages.tracker.recovered:
                await recover(event.message.offset)
            raw = event.value if isinstance(event.value, bytes) else b""
            await accept(event.message.offset, raw, Trace.from_headers(event.headers))
            if stages.tracker.checkpoint_due():
                await write_checkpoint()

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode types receivers as (sender, *args)
    async def forget_tracker_when_revoked(_app: faust.App, revoked: Collection[Any], **_: Any) -> None:
        # Once the tracker's partition is taken away, another worker may own it and move on from the last
        # checkpoint: this worker's state is stale. Dropping it makes a partition that comes back (a
        # rebalance often hands it to the same worker) restore from the newest checkpoint, as a restart does.
        if stages.tracker.recovered and any(tp.topic == names.embedded for tp in revoked):
            log.info("tracker partition revoked: its state is dropped until the partition is assigned again")
            stages.tracker = stages.new_tracker()

    @app.timer(interval=1.0, name="release_idle_partitions")  # type: ignore[untyped-decorator]
    async def release_idle_partitions() -> None:
        if stages.tracker.recovered:  # before recovery the buffer is not this tracker's yet
            for result, trace in track(stages.tracker.buffer.release_idle()):
                await emit(result, trace)

    @app.timer(  # type: ignore[untyped-decorator]
        interval=settings.metrics.lag_interval_seconds, name="report_consumer_lag"
    )
    async def report_consumer_lag() -> None:
        metrics.update_consumer_lag(_consumer_offsets(app, (names.articles, names.embedded)))

    app.stages = stages  # type: ignore[attr-defined]  # for tests and diagnostics
    app.metrics = metrics  # type: ignore[attr-defined]
    return app


@functools.cache
def _app_from_environment() -> faust.App:
    return create_app()


def __getattr__(name: str) -> Any:
    # ``faust -A streams.app`` looks up ``app`` here; build it only then, from the environment.
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)
