"""The evaluation data folder: which gold days exist, and which may be trained on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from streams.tools.evaluation.gold import EvaluationData


def test_days_are_found_per_split_and_marked(tmp_path: Path) -> None:
    gold = tmp_path / "gold"
    gold.mkdir()
    for name in (
        "train-2026-05-17",
        "train-2026-06-05",
        "dev-2026-05-25",
        "dev-2026-06-24",
        "dev-2026-06-24.second-annotator",
    ):
        (gold / f"{name}.labels.jsonl").write_text("", encoding="utf-8")
    data = EvaluationData(tmp_path)
    assert data.days("train") == [date(2026, 5, 17), date(2026, 6, 5)]
    # The second annotator's labels are an agreement study, not another day.
    assert data.days("dev") == data.dev_days() == [date(2026, 5, 25), date(2026, 6, 24)]
    assert data.split_of(date(2026, 6, 5)) == "train"
    assert data.split_of(date(2026, 6, 24)) == "dev"
    assert data.labels(date(2026, 6, 24)).name == "dev-2026-06-24.labels.jsonl"
