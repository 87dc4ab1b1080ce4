"""The benchmark suite's in-process parts on the sample (hashing embedder, tiny sizes): the report's shape.

No timing is asserted: only that every figure measured is a positive number and every skipped one is
null. The Kafka part needs a broker and is exercised by running ``python -m streams bench`` itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streams.commands import main
from streams.core.calibration import Calibration
from streams.core.embedding import HashingEmbedder
from streams.settings import Settings
from streams.tools.benchmarks import BenchConfig, run_benchmark
from streams.tools.benchmarks.inprocess import (
    SYNTHETIC_ID_PREFIX,
    RememberedEmbedder,
    SyntheticStories,
    TrackerLevel,
    measure_tracker_level,
)
from streams.tools.benchmarks.matmul_limit import (
    EncoderShape,
    allowed_posts_per_s,
    encoder_operations,
    measure_matmul,
)
from streams.tools.benchmarks.runner import check_targets

SIZES = (5, 20)
START = datetime(2026, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    config = BenchConfig(
        limit=40,
        embedders=("hashing",),
        skip=frozenset({"kafka"}),
        normalize_seconds=0.05,
        tracker_sizes=SIZES,
        tracker_articles=8,
        tracker_fill_seconds=60.0,
        tracker_measure_seconds=60.0,
        command="test",
    )
    return run_benchmark(config, progress=False)


def test_measured_figures_are_positive_numbers(report: dict[str, Any]) -> None:
    assert positive(report["normalize_docs_per_s"])
    assert list(report["embed_docs_per_s"]) == [HashingEmbedder().name]
    assert all(positive(value) for value in report["embed_docs_per_s"].values())
    assert list(report["tracker_docs_per_s"]) == [str(size) for size in SIZES]
    assert all(positive(value) for value in report["tracker_docs_per_s"].values())
    assert all(positive(value) for value in report["tracker_ms_per_article"].values())
    assert positive(report["offline_docs_per_s"])


def test_skipped_and_unmeasurable_figures_are_null(report: dict[str, Any]) -> None:
    # Kafka skipped; no e5 among the embedders, so no raw-model limit.
    for key in (
        "kafka_docs_per_s",
        "kafka_latency_ms_p50",
        "kafka_latency_ms_p99",
        "peak_rss_mb",
        "embed_limit_docs_per_s",
        "matmul_int8_gops",  # only with a dense encoder to compare
        "embed_hardware_limit_docs_per_s",
    ):
        assert report[key] is None, key
    assert report["skipped"] == ["kafka"]
    assert report["errors"] == []
    assert report["targets"]["kafka_over_offline"]["holds"] is None
    assert report["replay_whole_stream_s"] == {}
    assert report["targets"]["replay_whole_stream_s_default_encoder"]["holds"] is None


def test_whole_stream_replays_are_judged_per_encoder(report: dict[str, Any]) -> None:
    # The default encoder has 20 minutes for the whole stream, a static or hashing model 3.
    figures = {**report, "replay_whole_stream_s": {"e5": 1100.0, "sentence-transformers:static": 200.0}}
    targets = check_targets(figures)
    assert targets["replay_whole_stream_s_default_encoder"] == {"value": 1100.0, "max": 1200, "holds": True}
    assert targets["replay_whole_stream_s_static_model"] == {"value": 200.0, "max": 180, "holds": False}
    tracker = {**report, "tracker_docs_per_s": {"10000": 6000.0, "100000": 4000.0}}
    assert check_targets(tracker)["tracker_docs_per_s_at_10000"]["holds"] is True
    assert check_targets(tracker)["tracker_docs_per_s_at_100000"]["holds"] is False


def test_report_records_the_run(report: dict[str, Any]) -> None:
    assert report["data"]["posts"] == 40
    assert 0 < report["data"]["normalized"] <= report["data"]["parsed"] <= 40
    assert positive(report["machine"]["cores"])
    assert report["machine"]["cpu_model"]
    assert report["versions"]["numpy"] == np.__version__
    assert report["command"] == "test"
    levels = report["details"]["tracker"]["levels"]
    for size in SIZES:
        level = levels[str(size)]
        assert level["reached"] is True
        # The synthetic stories are all active when the real posts are tracked (none expired).
        assert level["active_stories_at_start"] == size
        assert level["articles"] == 8
    json.dumps(report)  # plain JSON throughout


def test_an_unreached_level_reports_no_rate() -> None:
    embedder = HashingEmbedder(dimension=64)
    posts = list(SyntheticStories(64, seed=1).articles(3, START, SECOND, embedder.name))
    real = [post.model_copy(update={"id": f"real/{index}"}) for index, post in enumerate(posts)]
    figures = measure_tracker_level(
        real,
        Settings(),
        embedder.dimension,
        Calibration.of(embedder),
        TrackerLevel(stories=100_000, fill_seconds=0.0, measure_articles=3, measure_seconds=10.0),
        seed=2,
    )
    assert figures["reached"] is False
    assert figures["docs_per_s"] is None and figures["ms_per_article"] is None
    assert 0 < figures["fill_articles"] < 100_000
    assert positive(figures["docs_per_s_at_reached"])


def test_synthetic_stories_are_distinct_unit_vectors() -> None:
    articles = list(SyntheticStories(32, seed=3).articles(50, START, SECOND, "x"))
    assert len({article.id for article in articles}) == 50
    assert all(article.id.startswith(SYNTHETIC_ID_PREFIX) for article in articles)
    assert len({" ".join(article.tokens) for article in articles}) == 50
    norms = [float(np.linalg.norm(article.vector())) for article in articles]
    assert norms == pytest.approx([1.0] * 50, abs=1e-5)


def test_remembered_embedder_embeds_only_what_it_does_not_know() -> None:
    inner = HashingEmbedder(dimension=64)
    known = {"الف ب": np.ones(64, dtype=np.float32) / 8}
    remembered = RememberedEmbedder(inner, dict(known))
    vectors = remembered.embed(["الف ب", "پ ت"])
    np.testing.assert_array_equal(vectors[0], known["الف ب"])
    np.testing.assert_array_equal(vectors[1], inner.embed(["پ ت"])[0])


def test_bench_command_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--quick",
            "--limit",
            "12",
            "--embedder",
            "hashing",
            "--skip-kafka",
            "--skip-tracker",
            "--skip-offline",
            "--no-progress",
            "--json",
            str(output),
        ]
    )
    assert code == 0
    written = json.loads(output.read_text(encoding="utf-8"))
    assert positive(written["normalize_docs_per_s"])
    assert written["tracker_docs_per_s"] == {"1000": None, "10000": None, "100000": None}
    assert "normalize_docs_per_s" in capsys.readouterr().out


def test_bench_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--data", str(tmp_path / "missing.jsonl"), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "--tracker-sizes", "1000,lots", "--no-progress"]) == 2


def test_encoder_operations_count_linear_layers_and_attention() -> None:
    # One token through one layer of width 2 (intermediate 4): 2 * (4*2*2 + 2*2*4) + 2*2*1*1*2 operations.
    shape = EncoderShape(layers=1, hidden=2, intermediate=4)
    assert encoder_operations(1, shape) == 2 * (16 + 16) + 8
    assert encoder_operations(10) == 12 * (2 * 10 * (4 * 384 * 384 + 2 * 384 * 1536) + 4 * 100 * 384)
    # 1 G operations per second, posts of 10 tokens: 1e9 / encoder_operations(10) posts per second.
    assert allowed_posts_per_s(1.0, [10, 10]) == round(1e9 / encoder_operations(10), 1)
    # A post longer than the window costs one pass per window.
    assert allowed_posts_per_s(1.0, [1024]) == round(1e9 / (2 * encoder_operations(512)), 1)
    assert allowed_posts_per_s(1.0, []) == 0.0


def test_matmul_throughput_is_measured_for_both_precisions() -> None:
    figures = measure_matmul(threads=1, tokens=8, seconds=0.05)
    assert positive(figures["int8_gops"]) and positive(figures["fp32_gops"])


def test_token_counts_ignore_a_trained_folder_s_batch_padding() -> None:
    # The event encoder's tokenizer.json keeps the library's batch padding (train-encoder saves it so).
    from streams.tools.benchmarks.runner import _token_counts
    from streams.tools.encoder_bundle import BUNDLED_ENCODER

    counts = _token_counts(BenchConfig(model=str(BUNDLED_ENCODER)), Settings(), ["سلام", "سلام " * 50])
    assert counts[0] < 10 and counts[1] >= 50


def test_the_throughput_run_waits_in_proportion_to_the_posts() -> None:
    from streams.tools.benchmarks.kafka import throughput_deadline

    # 600 posts: the fixed timeout; the whole 75,591-post stream: long enough for a 5 posts/s model.
    assert throughput_deadline(600, 900.0) == 900.0
    assert throughput_deadline(75_591, 900.0) == 75_591 / 5.0
