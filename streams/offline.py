"""The Detector in-process over a file: the reference run that live Kafka runs are compared with."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from tqdm import tqdm

from streams.embedding import Embedder
from streams.pipeline import (
    ArticlePreparer,
    InputMessage,
    StoryDetector,
    canonical_order_key,
)
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
    preparer = ArticlePreparer(settings, embedder)
    embedded: list[EmbeddedArticle] = []
    selected = list(select_window(messages, since, until))
    for prepared in preparer.prepare_in_batches(selected, settings.embedder.batch_size, progress):
        if isinstance(prepared, Rejection):
            result.rejections.append(prepared)
        else:
            embedded.append(prepared)

    detector = StoryDetector(settings, embedder.dimension, embedder.default_threshold, embedder.centered)
    # Keyed by position in ``embedded`` (input order): offsets need not be unique (InputMessage's default).
    story_at_index: dict[int, str] = {}
    tracking_order = sorted(range(len(embedded)), key=lambda index: canonical_order_key(embedded[index]))
    for index in tqdm(tracking_order, desc="tracking", unit="article", disable=not progress):
        article = embedded[index]
        tracked = detector.track(article)
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


def write_jsonl(path: Path, rows: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        _write_rows(handle, rows)


# JSON allows these raw inside strings, but str.splitlines() and many JSON-lines readers break lines on
# them: written escaped, one record stays one line (they can only occur inside strings here).
_LINE_BREAKS_IN_STRINGS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _write_rows(handle: IO[str], rows: Iterable[str]) -> None:
    for row in rows:
        handle.write(row.translate(_LINE_BREAKS_IN_STRINGS))
        handle.write("\n")


def assignment_lines(result: OfflineResult) -> Iterator[str]:
    for article_id, story_id in result.assignments:
        yield json.dumps({"id": article_id, "story_id": story_id}, ensure_ascii=False)


def model_lines(records: Iterable[Alert | Rejection | StorySnapshot]) -> Iterator[str]:
    for record in records:
        yield record.model_dump_json()
