"""The output step: everything the worker sends, and checkpoints that are written only after it is sent.

No faust: it writes to a ``RecordSink`` (the worker's is its Faust producer; tests use a list in memory),
counts what went out, and logs alerts for the people watching the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Protocol

from streams.core.checkpoint import CHECKPOINT_KEY, Checkpoint
from streams.core.detector import TrackResult
from streams.kafka.input_progress import InputProgress
from streams.kafka.topics import TopicNames
from streams.metrics import StreamsMetrics, Trace
from streams.records import EmbeddedArticle, Rejection

log = logging.getLogger(__name__)


class RecordSink(Protocol):
    """Where records go: one topic by name, keyed, with optional headers."""

    async def send(
        self, topic: str, key: bytes | None, value: bytes, headers: Mapping[str, bytes] | None = None
    ) -> None: ...

    async def flush(self) -> None:
        """Return once everything sent so far is on the broker."""
        ...


class OutputStep:
    """Sends the embedding step's and the tracking step's results to their topics."""

    def __init__(self, sink: RecordSink, names: TopicNames, metrics: StreamsMetrics) -> None:
        self._sink = sink
        self._names = names
        self._metrics = metrics

    async def reject(self, rejection: Rejection) -> None:
        """A dead letter (counted by whoever refused it)."""
        key = rejection.article_id.encode("utf-8") if rejection.article_id else None
        await self._sink.send(self._names.rejected, key, rejection.to_json_bytes())

    async def embedded(
        self, article: EmbeddedArticle, trace: Trace, progress: InputProgress | None = None
    ) -> None:
        """A prepared article to the tracker's input; its trace (and the input's progress, when given)
        travel in the headers."""
        headers = trace.to_headers()
        if progress is not None:
            headers.update(progress.to_headers())
        await self._sink.send(self._names.embedded, article.id.encode(), article.to_json_bytes(), headers)

    async def emit(self, result: TrackResult, trace: Trace | None) -> None:
        """What one tracked article caused: its rejection or assignment, story snapshots, alerts."""
        if result.rejection is not None:
            await self.reject(result.rejection)
        if result.assignment is not None:
            assignment = result.assignment
            await self._sink.send(self._names.assignments, assignment.id.encode(), assignment.to_json_bytes())
        for snapshot in result.snapshots:
            await self._sink.send(self._names.stories, snapshot.story_id.encode(), snapshot.to_json_bytes())
        for alert in result.alerts:
            await self._sink.send(self._names.alerts, alert.story_id.encode(), alert.to_json_bytes())
            log.info("alert %s: %s", alert.alert_id, alert.headline)
        self._metrics.observe_emitted(result, trace)

    async def checkpoint(self, checkpoint: Checkpoint) -> None:
        """Flush, then write ``checkpoint``: a checkpoint must never say an article was processed before
        everything that article caused is on the broker."""
        await self._sink.flush()
        value = await asyncio.to_thread(checkpoint.to_bytes)
        await self._sink.send(self._names.checkpoints, CHECKPOINT_KEY, value)
        self._metrics.checkpoints_written.inc()
        log.info("tracker checkpoint at input offset %d (%d bytes)", checkpoint.offset, len(value))
