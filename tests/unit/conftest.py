"""Shared fixtures of the unit tests: the bundled sample, its ground truth, a clean environment."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from streams.embedding import HashingEmbedder
from streams.offline import OfflineResult, run_offline
from streams.settings import Settings
from streams.sources import read_messages

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "persian-news-sample.jsonl"
SCHEMA_DIR = REPO / "schemas"

# samples/README.md, "Malformed lines": line number -> the reason the detector must give.
README_MALFORMED = {
    35: "malformed_json",
    49: "invalid_timestamp",
    50: "not_an_object",
    57: "missing_field",
    76: "empty_text",
    94: "empty_text",
    130: "missing_field",
    154: "invalid_timestamp",
    180: "invalid_field",
    209: "duplicate_id",
    243: "not_persian",
    275: "missing_field",
}
# samples/README.md, "Stories": the seven emerging stories and the three slow ones.
EMERGING_STORIES = (
    "kerman-earthquake",
    "tehran-mall-fire",
    "persepolis-esteghlal-derby",
    "dollar-jump-rate-hike",
    "chalus-road-snow",
    "mashhad-emergency-landing",
    "asaluyeh-petrochemical-explosion",
)
SLOW_STORIES = ("budget-bill-1405", "konkur-date", "fm-baghdad-visit")


def pytest_configure(config: pytest.Config) -> None:
    # Unit tests run on defaults: no STREAMS_* setting of the developer's shell leaks in, and nothing
    # reaches the Hugging Face hub.
    for name in [name for name in os.environ if name.startswith("STREAMS_")]:
        del os.environ[name]
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


@dataclass(frozen=True)
class SampleLine:
    """One line of the sample file, with what the ground truth says about it."""

    number: int  # 1-based, the offset read_messages gives it
    raw: bytes
    payload: Any  # the decoded JSON, or None when the line is not JSON

    @property
    def story(self) -> str | None:
        if isinstance(self.payload, dict):
            return self.payload.get("sample_story")
        return None

    @property
    def is_valid(self) -> bool:
        return self.story is not None and self.story != "malformed"

    @property
    def published_at(self) -> datetime:
        return datetime.fromisoformat(self.payload["published_at"])


def _load_sample() -> list[SampleLine]:
    lines = []
    for number, raw in enumerate(SAMPLE.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        lines.append(SampleLine(number, raw, payload))
    return lines


@pytest.fixture(scope="session")
def sample_lines() -> list[SampleLine]:
    return _load_sample()


@pytest.fixture(scope="session")
def truth(sample_lines: list[SampleLine]) -> dict[str, str]:
    """Article id -> ground-truth story of every valid post of the sample."""
    return {line.payload["id"]: line.story for line in sample_lines if line.is_valid}


@pytest.fixture(scope="session")
def sample_run() -> OfflineResult:
    """The offline run of the whole sample with the hashing embedder (shared: it is deterministic)."""
    return run_offline(read_messages(SAMPLE), Settings(), HashingEmbedder(), progress=False)


def article_json(**fields: Any) -> bytes:
    """An input message; ``article_json(text=None)`` leaves ``text`` out."""
    payload: dict[str, Any] = {
        "id": "channel/1",
        "source": "channel",
        "published_at": "2026-03-02T10:00:00+03:30",
        "text": "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند",
    }
    payload.update(fields)
    return json.dumps({key: value for key, value in payload.items() if value is not None}).encode()


@pytest.fixture
def settings() -> Iterator[Settings]:
    yield Settings()
