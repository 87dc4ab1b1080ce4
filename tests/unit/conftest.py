"""Shared fixtures of the unit tests: the bundled sample, its ground truth, a clean environment."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from support.environment import REPO, SAMPLE, use_defaults

from streams.core.embedding import HashingEmbedder
from streams.files import read_messages
from streams.offline import OfflineResult, run_offline
from streams.settings import Settings

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


# Some examples normalize text with hazm or run the pipeline: no per-example deadline, so that a busy CI
# machine does not turn a slow example into a failure.
# No per-example deadline and no "too slow" health check: CI machines are shared and noisy; a property
# must fail on its logic, not on timing. Failing examples are printed so that they can be replayed.
hypothesis_settings.register_profile(
    "unit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
hypothesis_settings.load_profile("unit")


def pytest_configure(config: pytest.Config) -> None:
    use_defaults()


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


@pytest.fixture(scope="session")
def sample_path() -> Path:
    return SAMPLE


@pytest.fixture(scope="session")
def schema_dir() -> Path:
    return SCHEMA_DIR


@pytest.fixture(scope="session")
def readme_malformed() -> dict[int, str]:
    return dict(README_MALFORMED)


@pytest.fixture(scope="session")
def emerging_stories() -> tuple[str, ...]:
    return EMERGING_STORIES


@pytest.fixture(scope="session")
def slow_stories() -> tuple[str, ...]:
    return SLOW_STORIES


MISSING = object()


def _article_json(**fields: Any) -> bytes:
    payload: dict[str, Any] = {
        "id": "channel/1",
        "source": "channel",
        "published_at": "2026-03-02T10:00:00+03:30",
        "text": "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند",
    }
    payload.update(fields)
    return json.dumps(
        {key: value for key, value in payload.items() if value is not MISSING}, ensure_ascii=False
    ).encode("utf-8")


@pytest.fixture(scope="session")
def article_json() -> Callable[..., bytes]:
    """Builds an input message from a valid default article; a field given as ``MISSING`` is left out."""
    return _article_json


@pytest.fixture(scope="session")
def missing() -> object:
    """The marker that makes ``article_json`` leave a field out."""
    return MISSING
