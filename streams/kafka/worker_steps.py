"""The worker's steps, wired: embedding -> (articles.embedded) -> tracking -> output.

``create_app`` (streams/kafka/app.py) builds one ``WorkerSteps`` on its Faust producer and Kafka reads;
the in-process tests (tests/agents/) build one on memory and drive it as the agents do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from streams.core.calibration import Calibration
from streams.kafka.embedding_step import EmbedderFactory, EmbeddingStep
from streams.kafka.output_step import OutputStep, RecordSink
from streams.kafka.topics import TopicNames
from streams.kafka.tracking_step import RecoverySource, TrackingStep
from streams.metrics import StreamsMetrics
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class WorkerSteps:
    embedding: EmbeddingStep
    tracking: TrackingStep
    output: OutputStep

    @classmethod
    def build(
        cls,
        settings: Settings,
        embedder_factory: EmbedderFactory,
        sink: RecordSink,
        recovery: RecoverySource,
        metrics: StreamsMetrics,
        wall_clock: Callable[[], float] = time.monotonic,
    ) -> WorkerSteps:
        """``wall_clock`` (monotonic seconds) only decides when a silent input partition counts as idle."""
        output = OutputStep(sink, TopicNames.from_prefix(settings.kafka.topic_prefix), metrics)
        # The tracker needs no model: the configured embedder's calibration is read from the settings.
        tracking = TrackingStep(
            settings, Calibration.declared(settings.embedder), recovery, output, metrics, wall_clock
        )
        return cls(EmbeddingStep(settings, embedder_factory, output, metrics), tracking, output)
