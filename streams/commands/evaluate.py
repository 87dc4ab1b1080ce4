"""``python -m streams evaluate``: the Detector and the baselines against gold story labels."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from streams.commands.options import (
    Subcommands,
    add_embedder_options,
    settings_from,
)
from streams.errors import ConfigurationError
from streams.settings import Settings


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="score the Detector and the baselines against gold story labels",
        description="Run the Detector and the classical baselines (single-pass TF-IDF, dense) over each gold "
        "day's window (the day before warms up) and score the day's gold posts: BCubed and pairwise "
        "clustering, silver same-story pairs, emerging-story alert recall, precision, redundancy, delay.",
    )
    parser.add_argument(
        "--alerts-on-gold",
        action="store_true",
        help="instead: the alert rule (STREAMS_ALERTS__*) run on the gold stories themselves, what it "
        "reaches with perfect clusters (no model needed)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the evaluation data folder (telegram/, gold/), e.g. ../shared/data",
    )
    parser.add_argument(
        "--day",
        type=date.fromisoformat,
        action="append",
        help="a gold day, YYYY-MM-DD (repeatable; default: every gold day of --split)",
    )
    parser.add_argument(
        "--split",
        choices=["train", "dev", "all"],
        default="all",
        help="which gold days to score by default: the training days, the development days, or both "
        "(default all; each day is marked with its split)",
    )
    parser.add_argument("--json", type=Path, help="also write the scores as JSON here")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(".cache/evaluation"),
        help="embedding cache folder (default .cache/evaluation; reruns skip the model)",
    )
    parser.add_argument(
        "--topic-clustering",
        action="store_true",
        help="instead: V-measure of the configured embedder and the hashing baseline on DATA/hamshahri "
        "(Persian MTEB HamshahriClustring, and on all 2,048 items)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_embedder_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.core.embedding import create_embedder
    from streams.tools.evaluation.gold import EvaluationData
    from streams.tools.evaluation.runner import evaluate, format_report, write_report

    data = EvaluationData(args.data)
    splits = ("train", "dev") if args.split == "all" else (args.split,)
    days = args.day or [day for split in splits for day in data.days(split)]
    if not days:
        raise ConfigurationError(
            f"no gold days found in {args.data / 'gold'}: is --data the evaluation data folder?"
        )
    settings = settings_from(args)
    if args.topic_clustering:
        return _topic_clustering(args, settings)
    if args.alerts_on_gold:
        return _alerts_on_gold(args, settings, days)
    try:
        report = evaluate(
            args.data,
            days,
            settings,
            create_embedder(settings.embedder),
            cache_dir=args.cache,
            progress=not args.no_progress,
        )
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from error
    print(format_report(report))
    if args.json:
        write_report(report, args.json)
    return 0


def _alerts_on_gold(args: argparse.Namespace, settings: Settings, days: list[date]) -> int:
    from streams.tools.evaluation.gold_alerts import format_gold_alert_report, gold_alert_report
    from streams.tools.evaluation.runner import write_report

    try:
        report = gold_alert_report(args.data, days, settings.alerts)
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from error
    print(format_gold_alert_report(report))
    if args.json:
        write_report(report, args.json)
    return 0


def _topic_clustering(args: argparse.Namespace, settings: Settings) -> int:
    from streams.core.embedding import CachingEmbedder, HashingEmbedder, create_embedder
    from streams.tools.evaluation.runner import write_report
    from streams.tools.evaluation.topic_clustering import evaluate_topic_clustering, format_topic_report

    folder = args.data / "hamshahri"
    if not folder.is_dir():
        raise ConfigurationError(f"{folder} is missing: --data must point at the evaluation data folder")
    embedder = create_embedder(settings.embedder)
    report = evaluate_topic_clustering(
        folder,
        [CachingEmbedder.in_folder(embedder, args.cache), HashingEmbedder()],
        progress=not args.no_progress,
    )
    print(format_topic_report(report))
    if args.json:
        write_report(report, args.json)
    return 0
