"""The Faust app: the worker's agents, a thin edge around its steps (the only module that imports faust).

Topology::

    articles (N partitions) --prepare_articles--> articles.embedded (1 partition) --track_stories-->
        \\-> articles.rejected                            assignments, stories, alerts, articles.rejected

``prepare_articles`` is stateless and scales out with more workers and partitions; ``track_stories`` is the
single owner of the global story view. Each agent reads and batches, then hands the messages to a named step
(``streams/kafka/embedding_step.py``, ``tracking_step.py``, ``output_step.py``): CPU work runs off the event
loop there, so the loop keeps heartbeating and committing.

Metrics (``streams/metrics.py``) are observed by the steps, around the domain calls, and served with faust's
own sensors on the web port at ``/metrics``.

``faust -A streams.kafka.app worker`` finds the module attribute ``app``, built on first access from the
environment (``STREAMS_*``); ``python -m streams worker`` does the same after creating the topics.
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import faust
from faust.exceptions import ConsumerNotStarted
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.transport.drivers import aiokafka as faust_aiokafka
from prometheus_client import CollectorRegistry

from streams.core.embedding import create_embedder
from streams.core.messages import InputMessage
from streams.kafka.checkpoint_store import KafkaRecoverySource
from streams.kafka.embedding_step import EmbedderFactory, EmbeddingStep
from streams.kafka.input_progress import InputProgress
from streams.kafka.output_step import RecordSink
from streams.kafka.topics import TopicNames
from streams.kafka.tracking_step import RecoverySource
from streams.kafka.worker_steps import WorkerSteps
from streams.metrics import FAUST_PREFIX, PartitionOffsets, StreamsMetrics, Trace
from streams.settings import KafkaSettings, Settings

log = logging.getLogger(__name__)


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


async def _prepare_batch(
    app: faust.App, settings: Settings, step: EmbeddingStep, batch: list[tuple[InputMessage, Trace]]
) -> None:
    """The embedding step on one batch, told the input's positions when it reports drained partitions."""
    if not settings.worker.report_drained_partitions:
        await step.process(batch)
        return
    # Asked after the batch was read: what the broker had then is all the batch can speak for.
    ends, committed = await _input_positions(
        app, TopicNames.from_prefix(settings.kafka.topic_prefix).articles
    )
    await step.process(batch, ends, committed)


async def _input_positions(
    app: faust.App, topic: str
) -> tuple[dict[int, int | None], dict[int, int | None]] | tuple[None, None]:
    """End offset (a broker round trip, not the last fetch's view) and committed offset of each assigned
    partition of ``topic``; (None, None) when the consumer cannot say (then nothing is reported)."""
    consumer = app.consumer
    try:
        partitions = [tp for tp in consumer.assignment() if tp.topic == topic]
        ends = await consumer.highwaters(*partitions) if partitions else {}
    except Exception as error:  # a broker hiccup costs only latency: the idle timer still lets go
        log.debug("input end offsets unavailable (%s): no drained partitions reported", error)
        return None, None
    committed = getattr(consumer, "_committed_offset", None) or {}
    return (
        {tp.partition: ends.get(tp) for tp in partitions},
        {tp.partition: committed.get(tp) for tp in partitions},
    )


def _serve_metrics(app: faust.App, metrics: StreamsMetrics) -> None:
    """Faust's sensors into the same registry, and the registry on the web port at /metrics."""
    setup_prometheus_sensors(app, pattern="/metrics", registry=metrics.registry, name_prefix=FAUST_PREFIX)


class _WorkerApp(faust.App):
    """A Faust app whose consumer asks the broker to hold fetches for ``fetch_max_wait_ms`` at most."""

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **options: Any) -> None:
        self.fetch_max_wait_ms = fetch_max_wait_ms  # read when the transport is first made, after this
        super().__init__(*args, **options)

    def _new_transport(self) -> Any:
        # Faust builds its consumer with a fixed fetch_max_wait_ms=1500 and offers no setting for it; its
        # transport classes are the supported place to change how the consumer is made.
        if self.conf.broker_consumer[0].scheme not in ("kafka", "aiokafka"):
            return super()._new_transport()
        return _transport_class(self.fetch_max_wait_ms)(self.conf.broker_consumer, self)


@functools.cache
def _transport_class(fetch_max_wait_ms: int) -> type[faust_aiokafka.Transport]:
    class WaitingConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: faust_aiokafka.Transport) -> Any:
            consumer = super()._create_worker_consumer(transport)
            # Read by aiokafka when the consumer starts (its fetcher is made then).
            consumer._fetch_max_wait_ms = fetch_max_wait_ms
            return consumer

    class WaitingConsumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return WaitingConsumerThread(self, loop=self.loop, beacon=self.beacon)

    class WaitingTransport(faust_aiokafka.Transport):
        Consumer = WaitingConsumer

    return WaitingTransport


class FaustSink:
    """The output step's ``RecordSink`` on the app's Faust topics and producer."""

    def __init__(self, app: faust.App, topics: Sequence[faust.TopicT]) -> None:
        self._app = app
        self._topics = {topic.get_topic_name(): topic for topic in topics}

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes] | None = None
    ) -> None:
        await self._topics[topic].send(key=key, value=value, headers=headers)

    async def flush(self) -> None:
        await self._app.producer.flush()


def input_batch(
    events: Sequence[faust.EventT[bytes]], received_at: float
) -> list[tuple[InputMessage, Trace]]:
    """Faust events of the input topic as the embedding step's input: raw bytes with their position, and
    the message's Kafka timestamp and read time (they travel to the tracker in headers)."""
    return [
        (
            InputMessage(raw=_raw(event), partition=event.message.partition, offset=event.message.offset),
            Trace(produced_at=event.message.timestamp, received_at=received_at),
        )
        for event in events
    ]


def _raw(event: faust.EventT[bytes]) -> bytes:
    return event.value if isinstance(event.value, bytes) else b""


def create_app(
    settings: Settings | None = None,
    embedder_factory: EmbedderFactory | None = None,
    registry: CollectorRegistry | None = None,
    *,
    sink: RecordSink | None = None,
    recovery: RecoverySource | None = None,
    idle_clock: Callable[[], float] = time.monotonic,
) -> faust.App:
    """Build the worker app and its agents for ``settings`` (default: from the environment).

    Metrics go to ``registry`` (default: a new one per app). ``sink`` and ``recovery`` replace the app's
    Kafka producer and recovery reads, and ``idle_clock`` the clock that tells a silent input partition
    (the in-process tests run the real agents on memory, with a clock they move).
    """
    settings = settings or Settings()
    kafka = settings.kafka
    names = TopicNames.from_prefix(kafka.topic_prefix)
    app = _WorkerApp(
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
        producer_max_request_size=kafka.fetch_max_bytes,
        consumer_max_fetch_size=kafka.fetch_max_bytes,
        producer_acks=-1,
        broker_session_timeout=settings.worker.session_timeout_seconds,
        # A crashed member is dropped from a rebalance no later than a silent one.
        broker_rebalance_timeout=settings.worker.session_timeout_seconds,
        fetch_max_wait_ms=settings.worker.fetch_max_wait_ms,
    )
    metrics = StreamsMetrics.create(
        registry, settings.metrics.known_sources(), max_sources=settings.metrics.max_sources
    )
    _serve_metrics(app, metrics)

    def topic(name: str, partitions: int) -> faust.TopicT:
        return app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")

    articles = topic(names.articles, kafka.articles_partitions)
    embedded = topic(names.embedded, 1)
    outputs = [topic(name, 1) for name in (names.assignments, names.stories, names.alerts, names.rejected)]
    checkpoints = topic(names.checkpoints, 1)
    steps = WorkerSteps.build(
        settings,
        embedder_factory or (lambda s: create_embedder(s.embedder)),
        sink or FaustSink(app, [embedded, *outputs, checkpoints]),
        recovery or KafkaRecoverySource(kafka),
        metrics,
        idle_clock,
    )

    # The agents only read, batch and hand over: what happens to a message is the steps' (worker_steps.py).
    @app.agent(articles, name="prepare_articles")
    async def prepare_articles(stream: faust.StreamT[bytes]) -> None:
        await steps.embedding.start()
        async for events in stream.take_events(  # type: ignore[attr-defined]  # missing from StreamT
            settings.embedder.batch_size, within=settings.worker.embed_batch_seconds
        ):
            await _prepare_batch(app, settings, steps.embedding, input_batch(events, metrics.now()))

    @app.agent(embedded, name="track_stories")
    async def track_stories(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await steps.tracking.process(
                event.message.offset,
                _raw(event),
                Trace.from_headers(event.headers),
                InputProgress.from_headers(event.headers),
            )

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode types receivers as (sender, *args)
    async def forget_tracker_when_revoked(_app: faust.App, revoked: Collection[Any], **_: Any) -> None:
        # Another worker may own the tracker's partition now and move on from the last checkpoint.
        if any(tp.topic == names.embedded for tp in revoked):
            await steps.tracking.drop_state()

    @app.timer(interval=1.0, name="release_idle_partitions")  # type: ignore[untyped-decorator]
    async def release_idle_partitions() -> None:
        await steps.tracking.release_idle()

    @app.timer(  # type: ignore[untyped-decorator]
        interval=settings.metrics.lag_interval_seconds, name="report_consumer_lag"
    )
    async def report_consumer_lag() -> None:
        metrics.update_consumer_lag(_consumer_offsets(app, (names.articles, names.embedded)))

    app.steps = steps  # type: ignore[attr-defined]  # for tests and diagnostics
    app.metrics = metrics  # type: ignore[attr-defined]
    return app


@functools.cache
def _app_from_environment() -> faust.App:
    return create_app()


def __getattr__(name: str) -> Any:
    # ``faust -A streams.kafka.app`` looks up ``app`` here; build it only then, from the environment.
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)
