"""The embedding step: a batch of input messages -> the Detector's preparation, off the event loop -> the
output step (embedded articles to the tracker's input, refusals to the dead-letter topic).

No faust: the worker's ``prepare_articles`` agent hands it each batch it takes from the input topic. The
model loads once, in the step's own thread, so the event loop keeps heartbeating and committing while it
loads and while it embeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from streams.core.detector import Detector
from streams.core.embedding import Embedder
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.preparation import wall_clock_now
from streams.kafka.input_progress import InputProgress, drained_partitions
from streams.kafka.output_step import OutputStep
from streams.metrics import StreamsMetrics, Trace
from streams.records import EmbeddedArticle, Rejection
from streams.settings import Settings

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[Settings], Embedder]


class EmbeddingStep:
    """Prepares batches with one Detector whose embedder is built on ``start``."""

    def __init__(
        self,
        settings: Settings,
        embedder_factory: EmbedderFactory,
        output: OutputStep,
        metrics: StreamsMetrics,
        wall_clock: Callable[[], datetime] = wall_clock_now,
    ) -> None:
        self._settings = settings
        self._wall_clock = wall_clock
        self._embedder_factory = embedder_factory
        self._output = output
        self._metrics = metrics
        self._detector: Detector | None = None
        # What this stage has sent on: the highest input offset per partition, and the largest
        # canonical key of an embedded article (streams/kafka/input_progress.py).
        self._processed: dict[int, int] = {}
        self._sent_through: tuple[datetime, str] | None = None
        # One thread: the model is not shared across threads, and batches keep their order.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    async def start(self) -> None:
        """Load the model (once; later calls return at once)."""
        if self._detector is None:
            loop = asyncio.get_running_loop()
            embedder = await loop.run_in_executor(self._executor, self._embedder_factory, self._settings)
            self._detector = Detector(self._settings, self._metrics.timed(embedder))
            log.info("embedder ready: %s (dimension %d)", embedder.name, embedder.dimension)

    async def process(
        self,
        batch: Sequence[tuple[InputMessage, Trace]],
        end_offsets: Mapping[int, int | None] | None = None,
        committed: Mapping[int, int | None] | None = None,
    ) -> None:
        """Prepare one batch and send every result, in input order.

        ``end_offsets``: the assigned input partitions' end offsets, asked after the batch was read
        (``committed``: the group's committed offsets). With them, the last embedded record of the batch
        tells the tracker which partitions are drained (``InputProgress``)."""
        await self.start()
        messages = [message for message, _ in batch]
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(self._executor, self._prepare, messages)
        for message in messages:
            previous = self._processed.get(message.partition, -1)
            self._processed[message.partition] = max(message.offset, previous)
        keys = {
            index: canonical_order_key(prepared)
            for index, prepared in enumerate(results)
            if isinstance(prepared, EmbeddedArticle)
        }
        if keys:
            newest = max(keys.values())
            self._sent_through = newest if self._sent_through is None else max(newest, self._sent_through)
        progress = self._progress(end_offsets, committed) if keys else None
        last = max(keys, default=-1)
        for index, ((_, trace), prepared) in enumerate(zip(batch, results, strict=True)):
            if isinstance(prepared, Rejection):
                await self._output.reject(prepared)
            else:
                await self._output.embedded(prepared, trace, progress if index == last else None)

    def _progress(
        self, end_offsets: Mapping[int, int | None] | None, committed: Mapping[int, int | None] | None
    ) -> InputProgress | None:
        if end_offsets is None or self._sent_through is None:
            return None
        drained = drained_partitions(self._processed, end_offsets, committed)
        # Never through a time after now: an article dated ahead (within max_future_seconds) then waits
        # for the clock, as it would for the other partitions, instead of moving event time ahead at once.
        through = min(self._sent_through, (self._wall_clock(), ""))
        return InputProgress(drained, through) if drained else None

    def _prepare(self, messages: Sequence[InputMessage]) -> list[EmbeddedArticle | Rejection]:
        # In the step's thread: counted there too, so the loop does only the sending.
        assert self._detector is not None
        results = self._detector.prepare(messages)
        self._metrics.observe_prepared(messages, results)
        return results
