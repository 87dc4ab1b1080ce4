"""Feeding the story board (streams/board/) from Kafka: one reader thread over the four topics it shows.

Reading them from their start rebuilds the whole view (the stories and assignments topics are compacted: their
latest record per key is the state), so the board shows a past range after a replay as well as the live
stream. The reader outlives broker restarts: it reconnects and carries on from the offsets it had read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from streams.board.view import BoardView
from streams.kafka.clients import client_options
from streams.kafka.topics import TopicNames
from streams.settings import KafkaSettings

logger = logging.getLogger(__name__)

# How often to look for topics that did not exist yet (the board may start before the worker).
TOPIC_CHECK_SECONDS = 5.0
RETRY_SECONDS = 2.0


class TopicReader:
    """Reads articles, assignments, stories and alerts into ``view``; ``on_change`` after each batch."""

    def __init__(
        self, settings: KafkaSettings, view: BoardView, on_change: Callable[[], None] = lambda: None
    ) -> None:
        names = TopicNames.from_prefix(settings.topic_prefix)
        self.settings = settings
        self.view = view
        self.on_change = on_change
        self._handlers: dict[str, Callable[[bytes], object]] = {
            names.articles: view.add_article,
            names.assignments: view.add_assignment,
            names.stories: view.add_story,
            names.alerts: view.add_alert,
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="board-topic-reader", daemon=True)
        self.connected = False
        self.records_read = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _run(self) -> None:
        positions: dict[Any, int] = {}
        while not self._stop.is_set():
            try:
                self._read(positions)
            except Exception as error:  # the broker went away or refused us: say so once, retry
                if self.connected:
                    logger.warning("board: lost the broker (%s); reconnecting", error)
                self.connected = False
                self._stop.wait(RETRY_SECONDS)

    def _read(self, positions: dict[Any, int]) -> None:
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(
            **client_options(self.settings),
            group_id=None,
            enable_auto_commit=False,
            # Where retention removed the oldest records, the oldest that remain.
            auto_offset_reset="earliest",
            fetch_max_bytes=self.settings.fetch_max_bytes,
            max_partition_fetch_bytes=self.settings.fetch_max_bytes,
        )
        try:
            checked_at: float | None = None
            while not self._stop.is_set():
                if checked_at is None or time.monotonic() - checked_at >= TOPIC_CHECK_SECONDS:
                    self._assign(consumer, positions)
                    checked_at = time.monotonic()
                if not positions:
                    self._stop.wait(1.0)
                    continue
                batch = consumer.poll(timeout_ms=500, max_records=2000)
                for partition, records in batch.items():
                    handle = self._handlers[partition.topic]
                    for record in records:
                        if record.value is not None:  # a compaction tombstone carries nothing to show
                            handle(record.value)
                        positions[partition] = record.offset + 1
                    self.records_read += len(records)
                if batch:
                    self.on_change()
        finally:
            consumer.close()

    def _assign(self, consumer: Any, positions: dict[Any, int]) -> None:
        """Take up the topics' partitions (new ones from their start; known ones where reading stopped)."""
        from kafka import TopicPartition

        wanted: list[Any] = []
        for topic in self._handlers:
            partitions = sorted(consumer.partitions_for_topic(topic) or ())
            wanted.extend(TopicPartition(topic, partition) for partition in partitions)
        if not wanted:
            return
        self.connected = True
        if set(wanted) == set(consumer.assignment()):
            return
        consumer.assign(wanted)
        for partition in wanted:
            if partition in positions:
                consumer.seek(partition, positions[partition])
            else:
                consumer.seek_to_beginning(partition)
                positions[partition] = 0
