"""Reading the evaluation data: gold day labels, silver same-story pairs, and the stream window of a day."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from streams.tools.evaluation.metrics import GoldLabel

TEHRAN = timezone(timedelta(hours=3, minutes=30))


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
        return self.root / "gold" / f"dev-{day.isoformat()}.labels.jsonl"

    def dev_days(self) -> list[date]:
        """The development days that have gold labels (the first annotator's), oldest first."""
        return sorted(
            date.fromisoformat(path.name.removeprefix("dev-").removesuffix(".labels.jsonl"))
            for path in (self.root / "gold").glob("dev-*.labels.jsonl")
            if "second-annotator" not in path.name
        )

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


def load_silver_pairs(data: EvaluationData) -> list[tuple[str, str]]:
    pairs = []
    for line in data.silver_pairs.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        pairs.append((record["a"], record["b"]))
    return pairs
