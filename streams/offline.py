"""The Detector in-process over a file: the reference run that live Kafka runs are compared with.

Also what the in-process tools share: batched preparation with a progress bar, JSON-lines output.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tqdm import tqdm

from streams.core.detector import Detector
from streams.core.embedding import Embedder
from streams.core.messages import InputMessage
from streams.records import Alert, EmbeddedArticle, Rejection, StorySnapshot, peek_published_at
from streams.settings import Settings


@dataclass
class OfflineResult:
    """Everything an offline run produced, in the orders the output files use."""

    assignments: list[tuple[str, str]] = field(default_factory=list)  # (article id, story id), input order
    alerts: list[Alert] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    snapshots: dict[str, StorySnapshot] = field(default_factory=dict)  # latest per story


def select_window(
    messages: Iterable[InputMessage], since: datetime | None, until: datetime | None
) -> Iterator[InputMessage]:
    """Messages whose ``published_at`` is in [since, until), and those without a readable one (so that
    every unreadable line still gets its rejection)."""
    for message in messages:
        published = peek_published_at(message.raw) if since or until else None
        if published is None or (
            (since is None or published >= since) and (until is None or published < until)
        ):
            yield message


def prepare_in_batches(
    detector: Detector,
    messages: Sequence[InputMessage],
    batch_size: int,
    progress: bool = False,
    desc: str = "embedding",
) -> list[EmbeddedArticle | Rejection]:
    """``detector.prepare`` over consecutive batches of ``batch_size``, with a progress bar."""
    results: list[EmbeddedArticle | Rejection] = []
    with tqdm(total=len(messages), desc=desc, unit="article", disable=not progress) as bar:
        for first in range(0, len(messages), batch_size):
            batch = messages[first : first + batch_size]
            results.extend(detector.prepare(batch))
            bar.update(len(batch))
    return results


def run_offline(
    messages: Iterable[InputMessage],
    settings: Settings,
    embedder: Embedder,
    since: datetime | None = None,
    until: datetime | None = None,
    progress: bool = True,
) -> OfflineResult:
    """Prepare every message, then track the articles in canonical event-time order."""
    result = OfflineResult()
    detector = Detector(settings, embedder)
    embedded: list[EmbeddedArticle] = []
    selected = list(select_window(messages, since, until))
    for prepared in prepare_in_batches(detector, selected, settings.embedder.batch_size, progress):
        if isinstance(prepared, Rejection):
            result.rejections.append(prepared)
        else:
            embedded.append(prepared)
    # Keyed by position in ``embedded`` (input order): offsets need not be unique (InputMessage's default).
    story_at_index: dict[int, str] = {}
    tracked_in_order = detector.track_in_order(embedded)
    for index, tracked in tqdm(
        tracked_in_order, total=len(embedded), desc="tracking", unit="article", disable=not progress
    ):
        if tracked.rejection is not None:
            result.rejections.append(tracked.rejection)
        if tracked.assignment is not None:
            story_at_index[index] = tracked.assignment.story_id
        result.alerts.extend(tracked.alerts)
        for snapshot in tracked.snapshots:
            result.snapshots[snapshot.story_id] = snapshot
    # The assignments file lists accepted articles in input order.
    for index, article in enumerate(embedded):
        if index in story_at_index:
            result.assignments.append((article.id, story_at_index[index]))
    result.rejections.sort(key=lambda rejection: rejection.input_offset or 0)
    return result


def assignment_lines(result: OfflineResult) -> Iterator[str]:
    for article_id, story_id in result.assignments:
        yield json.dumps({"id": article_id, "story_id": story_id}, ensure_ascii=False)


def model_lines(records: Iterable[Alert | Rejection | StorySnapshot]) -> Iterator[str]:
    for record in records:
        yield record.model_dump_json()
