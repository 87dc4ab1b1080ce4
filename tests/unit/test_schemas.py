"""The committed JSON Schemas match the models, and real records validate against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from pydantic import BaseModel

from streams.commands import main
from streams.core.calibration import Calibration
from streams.core.detector import Detector, TrackResult
from streams.core.embedding import HashingEmbedder
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.errors import ArticleRejected
from streams.files import read_messages
from streams.offline import OfflineResult
from streams.records import SCHEMA_VERSION, Article, EmbeddedArticle, Rejection, StorySnapshot, parse_article
from streams.schemas import BOARD_RECORDS, WIRE_RECORDS, render_schemas
from streams.settings import Settings


def validator(schema_dir: Path, name: str) -> Draft202012Validator:
    schema = json.loads((schema_dir / f"{name}.v{SCHEMA_VERSION}.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_committed_schemas_are_up_to_date(schema_dir: Path) -> None:
    rendered = render_schemas()
    committed = {path.name for path in schema_dir.glob("*.json")}
    assert committed == set(rendered), "run: python -m streams schemas"
    for name, text in rendered.items():
        assert (schema_dir / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: python -m streams schemas"
        )


def test_rendering_is_stable() -> None:
    assert render_schemas() == render_schemas()
    assert set(render_schemas()) == {
        f"{name}.v{SCHEMA_VERSION}.json" for name in {**WIRE_RECORDS, **BOARD_RECORDS}
    }


def test_schemas_check_command(schema_dir: Path, tmp_path: Path) -> None:
    assert main(["schemas", "--check", "--dir", str(schema_dir)]) == 0
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 1
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / f"alert.v{SCHEMA_VERSION}.json").write_text("{}", encoding="utf-8")
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 1


@pytest.fixture(scope="module")
def produced(sample_path: Path) -> dict[str, list[BaseModel]]:
    """Every kind of wire record, produced by the Detector from the sample with the hashing embedder."""
    settings = Settings()
    embedder = HashingEmbedder()
    messages = list(read_messages(sample_path))
    records: dict[str, list[BaseModel]] = {name: [] for name in WIRE_RECORDS}
    for message in messages:
        try:
            records["article"].append(parse_article(message.raw, max_bytes=1 << 20, max_text_chars=100_000))
        except ArticleRejected:
            continue  # a malformed line: the preparer turns it into a rejection below
    prepared = ArticlePreparer(settings, embedder).prepare(messages)
    embedded = [item for item in prepared if isinstance(item, EmbeddedArticle)]
    records["rejection"] += [item for item in prepared if isinstance(item, Rejection)]
    records["embedded-article"] += embedded
    detector = Detector(settings, calibration=Calibration(embedder.default_threshold, centered=False))
    for article in sorted(embedded, key=canonical_order_key):
        result: TrackResult = detector.track(article)
        records["assignment"] += [result.assignment] if result.assignment else []
        records["rejection"] += [result.rejection] if result.rejection else []
        records["story"] += result.snapshots
        records["alert"] += result.alerts
    return records


@pytest.mark.parametrize("name", list(WIRE_RECORDS))
def test_produced_records_validate(name: str, produced: dict[str, list[BaseModel]], schema_dir: Path) -> None:
    records = produced[name]
    assert records, f"the sample produced no {name} records"
    check = validator(schema_dir, name)
    for record in records:
        assert isinstance(record, WIRE_RECORDS[name])
        instance: Any = json.loads(record.model_dump_json())
        errors = [error.message for error in check.iter_errors(instance)]
        assert errors == [], f"{name}: {errors}"


def test_offline_run_records_validate(sample_run: OfflineResult, schema_dir: Path) -> None:
    groups: dict[str, list[BaseModel]] = {
        "alert": list(sample_run.alerts),
        "rejection": list(sample_run.rejections),
        "story": list(sample_run.snapshots.values()),
    }
    for name, records in groups.items():
        check = validator(schema_dir, name)
        assert records
        for record in records:
            assert list(check.iter_errors(json.loads(record.model_dump_json()))) == []


def test_every_rejection_reason_and_both_story_states_are_covered(
    produced: dict[str, list[BaseModel]],
) -> None:
    reasons = {record.reason for record in produced["rejection"] if isinstance(record, Rejection)}
    assert {"duplicate_id", "not_persian", "malformed_json", "missing_field"} <= reasons
    statuses = {record.status for record in produced["story"] if isinstance(record, StorySnapshot)}
    assert statuses == {"active", "closed"}


def test_schemas_refuse_broken_records(schema_dir: Path, produced: dict[str, list[BaseModel]]) -> None:
    alert = json.loads(produced["alert"][0].model_dump_json())
    check = validator(schema_dir, "alert")
    assert not check.is_valid({**alert, "type": "fading"})
    assert not check.is_valid({key: value for key, value in alert.items() if key != "story_id"})
    assert not check.is_valid({**alert, "unexpected": 1})
    article = json.loads(produced["article"][0].model_dump_json())
    assert not validator(schema_dir, "article").is_valid({**article, "id": ""})
    assert isinstance(produced["article"][0], Article)
