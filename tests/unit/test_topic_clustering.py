"""Topic clustering (V-measure, MTEB HamshahriClustring protocol) on tiny synthetic RSS dumps."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from streams.core.embedding import CachingEmbedder, HashingEmbedder, Matrix
from streams.tools.evaluation.topic_clustering import (
    MTEB_SEPARATOR,
    ClusteringProtocol,
    TopicItem,
    evaluate_topic_clustering,
    format_topic_report,
    load_topic_items,
    v_measure,
)

# Three categories whose headlines share their words within a category and none across: with lexical
# vectors the categories are perfectly separable.
TOPICS = {
    "ورزش > فوتبال": "تیم ملی فوتبال در ورزشگاه آزادی بازی کرد و گل زد",
    "اقتصاد > بازار": "قیمت دلار و سکه در بازار ارز تهران بالا رفت",
    "زیست‌بوم > محیط زیست": "آلودگی هوا و خشکسالی دریاچه ارومیه را تهدید می‌کند",
}
PER_TOPIC = 8


def _records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for number in range(PER_TOPIC):
        for label, headline in TOPICS.items():
            records.append(
                {
                    "title": headline,
                    "summary": f"گزارش شماره {number}",
                    "link": f"https://example.ir/{len(records)}",
                    "tags": [label, "خبرخوان"],
                }
            )
    return records


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def toy_items(tmp_path: Path) -> list[TopicItem]:
    return load_topic_items(_write(tmp_path / "toy.json", _records()))


def test_loading_joins_title_and_summary_and_takes_the_first_tag(tmp_path: Path) -> None:
    records: list[dict[str, Any]] = [
        {"title": "زلزله در کرمان", "summary": "چند خانه آسیب دید", "link": "a", "tags": ["حوادث", "ایران"]},
        {"title": "دربی تهران", "summary": "", "link": "b", "tags": ["ورزش > فوتبال"]},
        {"title": "بدون برچسب", "summary": "خبری بی‌دسته", "link": "c", "tags": []},
        {"title": "برچسب گمشده", "summary": "بی‌کلید", "link": "d"},
    ]
    items = load_topic_items(_write(tmp_path / "items.json", records))

    assert items == [
        TopicItem(text="زلزله در کرمان چند خانه آسیب دید", label="حوادث"),
        TopicItem(text="دربی تهران", label="ورزش > فوتبال"),
    ]
    mteb = load_topic_items(tmp_path / "items.json", separator=MTEB_SEPARATOR)
    assert mteb[0].text == "زلزله در کرمان\n: چند خانه آسیب دید"


def test_loading_rejects_a_file_that_is_not_a_list(tmp_path: Path) -> None:
    path = tmp_path / "object.json"
    path.write_text('{"title": "x"}', encoding="utf-8")
    with pytest.raises(ValueError, match="JSON list"):
        load_topic_items(path)


def test_separable_topics_score_one(toy_items: list[TopicItem]) -> None:
    scores = v_measure(HashingEmbedder(), toy_items, seeds=(0, 1, 2))

    assert scores.mean == pytest.approx(1.0)
    assert scores.std == pytest.approx(0.0)
    assert (scores.items, scores.pool, scores.labels, scores.clusters) == (3 * PER_TOPIC, 3 * PER_TOPIC, 3, 3)
    assert scores.rejected == 0
    assert len(scores.scores) == 3


def test_a_protocol_can_cluster_a_fraction_of_the_items_per_round(toy_items: list[TopicItem]) -> None:
    # MTEB's published protocol in small: a share of the items per round, bootstrapped to many points.
    half = ClusteringProtocol("half", round_fraction=0.5, bootstrap_size=200)
    embedded: list[str] = []

    class Recording(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> Matrix:
            embedded.extend(texts)
            return super().embed(texts)

    scores = v_measure(Recording(), toy_items, seeds=(0,), protocol=half)

    assert scores.mean == pytest.approx(1.0)
    assert (scores.items, scores.pool, scores.labels) == (12, 3 * PER_TOPIC, 3)
    assert len(embedded) == 12  # one round: only its items are embedded


def test_shuffled_labels_score_low(toy_items: list[TopicItem]) -> None:
    labels = [item.label for item in toy_items]
    random.Random(7).shuffle(labels)
    shuffled = [TopicItem(item.text, label) for item, label in zip(toy_items, labels, strict=True)]

    scores = v_measure(HashingEmbedder(), shuffled, seeds=(0, 1, 2))

    assert scores.mean < 0.4


def test_fixed_seeds_give_the_same_scores(toy_items: list[TopicItem]) -> None:
    labels = [item.label for item in toy_items]
    random.Random(3).shuffle(labels)  # an imperfect clustering, so that the seeds matter
    noisy = [TopicItem(item.text, label) for item, label in zip(toy_items, labels, strict=True)]

    first = v_measure(HashingEmbedder(), noisy, seeds=(0, 1, 2, 3))
    second = v_measure(HashingEmbedder(), noisy, seeds=(0, 1, 2, 3))

    assert first == second
    assert len(set(first.scores)) > 1  # the bootstrap samples differ from seed to seed


def test_singleton_labels_are_dropped_and_large_sets_subsampled(toy_items: list[TopicItem]) -> None:
    lonely = [*toy_items, TopicItem("خبری تنها در دسته‌ای تنها", "تنها")]

    whole = v_measure(HashingEmbedder(), lonely, seeds=(0,))
    small = ClusteringProtocol("small", max_items=12)
    sampled = v_measure(HashingEmbedder(), lonely, seeds=(0,), protocol=small)

    assert (whole.pool, whole.labels) == (3 * PER_TOPIC, 3)
    assert (sampled.pool, sampled.items, sampled.labels) == (12, 12, 3)  # stratified: every label stays


def test_too_few_labels_is_an_error() -> None:
    items = [TopicItem("قیمت دلار", "اقتصاد"), TopicItem("قیمت سکه", "اقتصاد")]
    with pytest.raises(ValueError, match="two labels"):
        v_measure(HashingEmbedder(), items, seeds=(0,))


def test_normalization_keeps_rejected_texts_raw(toy_items: list[TopicItem]) -> None:
    # Latin-only texts are not Persian: the normalizer refuses them and they are embedded as they are.
    latin = [TopicItem(f"football match report {n}", "sport") for n in range(4)]
    scores = v_measure(HashingEmbedder(), [*toy_items, *latin], seeds=(0,), normalize=True)

    assert scores.rejected == 4
    assert scores.items == 3 * PER_TOPIC + 4
    assert scores.labels == 4


def test_evaluation_covers_both_files_and_variants(tmp_path: Path) -> None:
    _write(tmp_path / "hamshahri.json", _records())
    _write(tmp_path / "radiofarda.json", _records()[: 3 * 4])
    cached = CachingEmbedder(HashingEmbedder(256), tmp_path / "cache" / "hashing.tsv")

    report = evaluate_topic_clustering(tmp_path, [cached], progress=False, seeds=(0, 1))

    json.dumps(report)  # JSON-ready
    rows = {(row["dataset"], row["protocol"], row["normalized"]): row for row in report["results"]}
    # The MTEB protocol is defined for hamshahri only.
    assert set(rows) == {
        (dataset, protocol, variant)
        for dataset, protocol in (("hamshahri", "full"), ("hamshahri", "mteb"), ("radiofarda", "full"))
        for variant in (False, True)
    }
    assert rows["hamshahri", "full", False]["items"] == 3 * PER_TOPIC
    assert rows["radiofarda", "full", True]["items"] == 12
    assert rows["hamshahri", "mteb", False]["items"] == 2  # 4% of 24, but at least two
    assert all(row["embedder"] == "hashing:256" for row in rows.values())
    assert (tmp_path / "cache" / "hashing.tsv").exists()  # the cache was saved

    table = format_topic_report(report)
    lines = table.splitlines()
    assert lines[0].split() == [
        "embedder",
        "dataset",
        "protocol",
        "text",
        "V-measure",
        "items",
        "labels",
        "k",
    ]
    assert len(lines) == 2 + 6
    assert "hashing:256" in lines[2]
    assert "±" in lines[2]
