"""Reading the evaluation data: gold day labels, silver same-story pairs, and the stream window of a day."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import NamedTuple

from streams.records import peek
from streams.tools.evaluation.metrics import GoldLabel

TEHRAN = timezone(timedelta(hours=3, minutes=30))
# Gold days come in two kinds: training days (fit anything on them) and development days (select on them).
SPLITS = ("train", "dev")


@dataclass(frozen=True, slots=True)
class EvaluationData:
    """Paths inside the data folder (``../shared/data`` for the project's developers)."""

    root: Path

    @property
    def stream(self) -> Path:
        return self.root / "telegram" / "articles.jsonl.gz"

    @property
    def silver_pairs(self) -> Path:
        return self.root / "telegram" / "silver_same_story_pairs.jsonl"

    def labels(self, day: date) -> Path:
        """The first annotator's labels of ``day``, a training or a development day."""
        for split in SPLITS:
            path = self.root / "gold" / f"{split}-{day.isoformat()}.labels.jsonl"
            if path.exists():
                return path
        return self.root / "gold" / f"dev-{day.isoformat()}.labels.jsonl"

    def split_of(self, day: date) -> str:
        """'train' or 'dev': what ``day`` may be used for (train on train days, select on dev days)."""
        return self.labels(day).name.split("-", 1)[0]

    def days(self, split: str) -> list[date]:
        """The gold days of ``split`` ('train' or 'dev'), oldest first."""
        return sorted(
            date.fromisoformat(path.name.removeprefix(f"{split}-").removesuffix(".labels.jsonl"))
            for path in (self.root / "gold").glob(f"{split}-*.labels.jsonl")
            if "second-annotator" not in path.name
        )

    def dev_days(self) -> list[date]:
        return self.days("dev")

    def check(self) -> None:
        for path in (self.stream, self.silver_pairs):
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing: --data must point at the evaluation data folder")


def day_window(day: date) -> tuple[datetime, datetime]:
    """The run window of a gold day: from the day before (warm-up) to the end of the day, Tehran time."""
    start = datetime.combine(day - timedelta(days=1), time(0), tzinfo=TEHRAN)
    return start, start + timedelta(days=2)


def load_labels(
    data: EvaluationData, day: date, published_by_id: Mapping[str, datetime]
) -> dict[str, GoldLabel]:
    """Gold labels of ``day``, with each post's time taken from the stream and its source from its id."""
    path = data.labels(day)
    if not path.exists():
        raise FileNotFoundError(f"no gold labels for {day}: {path}")
    labels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        published = published_by_id.get(record["id"])
        if published is None:
            raise ValueError(f"gold post {record['id']} is not in the stream with a valid time")
        labels[record["id"]] = GoldLabel(
            story=record["story"],
            kind=record["kind"],
            source=record["id"].split("/")[0],
            published_at=published,
        )
    return labels


def load_story_topics(data: EvaluationData, day: date) -> dict[str, str]:
    """Each gold story's topic on ``day`` (``DAY.stories.jsonl``; empty for noise), by story label."""
    path = data.labels(day).with_name(data.labels(day).name.replace(".labels.jsonl", ".stories.jsonl"))
    if not path.exists():
        raise FileNotFoundError(f"no gold stories for {day}: {path}")
    topics = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        topics[record["story"]] = record.get("topic") or ""
    return topics


def load_silver_pairs(data: EvaluationData) -> list[tuple[str, str]]:
    pairs = []
    for line in data.silver_pairs.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pairs.append((record["a"], record["b"]))
    return pairs


class StreamLine(NamedTuple):
    """One line of the stream, with its id and time read once."""

    raw: bytes
    article_id: str | None
    published_at: datetime | None


def read_stream(path: Path) -> list[StreamLine]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raws = [line.rstrip(b"\r\n") for line in handle if line.strip()]
    return [StreamLine(raw, *peek(raw)) for raw in raws]


def published_times(lines: Sequence[StreamLine]) -> dict[str, datetime]:
    """Each readable post's ``published_at``, by id (what gold labels are placed in time with)."""
    return {line.article_id: line.published_at for line in lines if line.article_id and line.published_at}
