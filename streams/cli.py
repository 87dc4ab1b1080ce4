"""Command line: ``python -m streams COMMAND`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import get_args

from streams.errors import ArticleRejected, ConfigurationError, DeliveryError
from streams.records import parse_timestamp
from streams.settings import EmbedderBackend, Settings

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def _timestamp(value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ArticleRejected as error:
        raise argparse.ArgumentTypeError(error.message.replace("'published_at'", "the time")) from None


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the command line's overrides on top."""
    settings = Settings()
    kafka: dict[str, object] = {}
    if getattr(args, "bootstrap_servers", None):
        kafka["bootstrap_servers"] = args.bootstrap_servers
    if getattr(args, "prefix", None):
        kafka["topic_prefix"] = args.prefix
    embedder: dict[str, object] = {}
    if getattr(args, "embedder", None):
        embedder["backend"] = args.embedder
    if getattr(args, "model", None):
        embedder["model"] = args.model
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update=kafka),
            "embedder": settings.embedder.model_copy(update=embedder),
        }
    )


def _kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap-servers",
        help="Kafka brokers, host:port[,host:port] "
        "(default: STREAMS_KAFKA__BOOTSTRAP_SERVERS or 127.0.0.1:9092)",
    )
    parser.add_argument(
        "--prefix", help="topic name prefix (default: STREAMS_KAFKA__TOPIC_PREFIX or persian-news)"
    )


def _embedder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--embedder",
        choices=["e5", "sentence-transformers", "hashing"],
        help="embedding backend (default: STREAMS_EMBEDDER__BACKEND or e5)",
    )
    parser.add_argument("--model", help="sentence-transformers model name or local path")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streams",
        description="Streaming event detection for Persian news. Settings come from STREAMS_* environment "
        "variables (see .env.example); the options below override them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", help="run the Faust worker (creates missing topics first)")
    _kafka_options(worker)
    _embedder_options(worker)
    worker.add_argument(
        "--web-port", type=int, help="web/metrics port (default: STREAMS_WORKER__WEB_PORT or 6066)"
    )
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])

    offline = commands.add_parser(
        "offline",
        help="run the Detector in-process over a file (no Kafka)",
        description="Run the Detector over a JSON-lines file. Writes one {id, story_id} line per accepted "
        "article in input order, and every alert as a JSON line. Deterministic: the same input gives "
        "byte-identical files.",
    )
    offline.add_argument(
        "--input", type=Path, required=True, help="articles, JSON lines (.jsonl or .jsonl.gz)"
    )
    offline.add_argument(
        "--assignments", type=Path, required=True, help="output: one {id, story_id} per article"
    )
    offline.add_argument("--alerts", type=Path, required=True, help="output: alerts, JSON lines")
    offline.add_argument("--rejects", type=Path, help="output: rejected input with reasons, JSON lines")
    offline.add_argument("--stories", type=Path, help="output: the final snapshot of every story")
    offline.add_argument("--since", type=_timestamp, help="only published_at >= this (ISO-8601 with offset)")
    offline.add_argument("--until", type=_timestamp, help="only published_at < this (ISO-8601 with offset)")
    offline.add_argument("--no-progress", action="store_true", help="no progress bars")
    _embedder_options(offline)

    replay = commands.add_parser(
        "replay",
        help="produce a historic file (or a time range of an input topic) into the input topic",
        description="Produce FILE into the input topic in published_at order, each message timestamped with "
        "its published_at. Or, with --from-prefix, copy the [--since, --until) range of another prefix's "
        "input topic into this prefix's, to re-run history after a model or threshold change.",
    )
    replay.add_argument("file", type=Path, nargs="?", help="articles, JSON lines (.jsonl or .jsonl.gz)")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="play N seconds of event time per wall-clock second")
    pace.add_argument("--max-rate", action="store_true", help="send as fast as possible")
    replay.add_argument("--from-prefix", help="copy from this prefix's input topic instead of a file")
    replay.add_argument(
        "--since", type=_timestamp, help="with --from-prefix: range start (ISO-8601 with offset)"
    )
    replay.add_argument("--until", type=_timestamp, help="with --from-prefix: range end (exclusive)")
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")
    _kafka_options(replay)

    alerts = commands.add_parser("alerts", help="print alerts from the alerts topic for people to read")
    alerts.add_argument("--follow", action="store_true", help="keep waiting for new alerts (Ctrl-C stops)")
    alerts.add_argument("--json", action="store_true", help="print the alert records as JSON lines")
    _kafka_options(alerts)

    evaluate = commands.add_parser(
        "evaluate",
        help="score the Detector and the baselines against gold story labels",
        description="Run the Detector and the classical baselines (single-pass TF-IDF, dense) over each gold "
        "day's window (the day before warms up) and score the day's gold posts: BCubed and pairwise "
        "clustering, silver same-story pairs, emerging-story alert recall, precision, redundancy, delay.",
    )
    evaluate.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the evaluation data folder (telegram/, gold/), e.g. ../shared/data",
    )
    evaluate.add_argument(
        "--day",
        type=date.fromisoformat,
        action="append",
        help="a gold day, YYYY-MM-DD (repeatable; default: every dev day in DATA/gold)",
    )
    evaluate.add_argument("--json", type=Path, help="also write the scores as JSON here")
    evaluate.add_argument(
        "--cache",
        type=Path,
        default=Path(".cache/evaluation"),
        help="embedding cache folder (default .cache/evaluation; reruns skip the model)",
    )
    evaluate.add_argument(
        "--topic-clustering",
        action="store_true",
        help="instead: V-measure of the configured embedder and the hashing baseline on DATA/hamshahri "
        "(Persian MTEB HamshahriClustring, and on all 2,048 items)",
    )
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bars")
    _embedder_options(evaluate)

    topics = commands.add_parser("topics", help="create the pipeline's topics that are missing")
    _kafka_options(topics)

    distill = commands.add_parser(
        "distill",
        help="distill a fast static Persian embedder from the e5 model (for fast replays)",
        description="Build a sentence-transformers StaticEmbedding model: the bundled e5 model embeds every "
        "word of a vocabulary counted over Persian news text (normalized as the pipeline does), the word "
        "vectors are PCA-reduced and SIF-weighted, and a text becomes the average of its words. Use it with "
        "STREAMS_EMBEDDER__BACKEND=sentence-transformers STREAMS_EMBEDDER__MODEL=OUTPUT; its join threshold "
        "and centering are stored in the folder. Deterministic given the corpus and the options.",
    )
    distill.add_argument(
        "--corpus",
        type=Path,
        action="append",
        required=True,
        help="Persian text: .jsonl (articles), .json (a list of objects with title/summary/abstract/"
        "paragraphs/text), .txt (a document a line), optionally .gz; repeatable",
    )
    distill.add_argument(
        "--until", type=_timestamp, help="leave out corpus records published at or after this time"
    )
    distill.add_argument(
        "--output",
        type=Path,
        default=Path(".cache/models/persian-static"),
        help="model folder to write (default .cache/models/persian-static)",
    )
    distill.add_argument("--min-count", type=int, default=2, help="a word must occur this often (default 2)")
    distill.add_argument("--max-words", type=int, default=50_000, help="vocabulary size cap (default 50000)")
    distill.add_argument(
        "--dimensions", type=int, default=256, help="PCA dimensions kept, 0 for none (default 256)"
    )
    distill.add_argument(
        "--sif", type=float, default=1e-3, help="SIF weighting a/(a+p(word)), 0 for none (default 0.001)"
    )
    distill.add_argument(
        "--fit-corpus",
        type=Path,
        action="append",
        default=[],
        help="documents (same formats) the teacher embeds whole; the word vectors are then fitted so that "
        "each document's word average matches its teacher vector (slower: the teacher reads every "
        "document; repeatable)",
    )
    distill.add_argument(
        "--ridge", type=float, default=1.0, help="with --fit-corpus: pull towards the words' own vectors"
    )
    distill.add_argument(
        "--threshold",
        type=float,
        help="join threshold stored with the model (default: the one calibrated for the default recipe)",
    )
    distill.add_argument(
        "--center",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="store 'centered cosines' with the model (default: on)",
    )
    distill.add_argument(
        "--cache",
        type=Path,
        default=Path(".cache/distill"),
        help="teacher vector cache folder (default .cache/distill; reruns skip the teacher)",
    )
    distill.add_argument("--json", type=Path, help="also write the distillation report as JSON here")
    distill.add_argument("--no-progress", action="store_true", help="no progress bars")

    bench = commands.add_parser(
        "bench",
        help="measure every stage against its limit, side by side (figures as JSON)",
        description="Measure in one run, side by side: normalization, embedding (each embedder and the raw "
        "e5 model as its limit), the story tracker at 1,000/10,000/100,000 active stories, the whole "
        "Detector in-process, and the same posts through a real Kafka broker and worker (throughput, "
        "latency at 10 articles/s, peak memory). Method and figures: docs/PERFORMANCE.md.",
    )
    bench.add_argument(
        "--data",
        type=Path,
        help="articles, JSON lines (.jsonl or .jsonl.gz); default: the bundled sample. The real stream: "
        "../shared/data/telegram/articles.jsonl.gz",
    )
    bench.add_argument(
        "--limit", type=int, help="posts from the start of the file, 0 for all (default 500; --quick 64)"
    )
    bench.add_argument("--quick", action="store_true", help="small sizes and short budgets: a smoke run")
    bench.add_argument(
        "--embedder",
        action="append",
        choices=list(get_args(EmbedderBackend)),
        help="an embedder to measure (repeatable; default: e5 and hashing); the first is the one the "
        "tracker, offline and Kafka figures use",
    )
    bench.add_argument("--model", help="sentence-transformers model name or local path")
    for part in ("normalize", "embed", "tracker", "offline", "kafka"):
        bench.add_argument(f"--skip-{part}", action="store_true", help=f"do not measure {part}")
    bench.add_argument(
        "--tracker-sizes",
        default="1000,10000,100000",
        help="active story counts to measure the tracker at (default 1000,10000,100000)",
    )
    bench.add_argument(
        "--tracker-articles", type=int, help="real posts tracked per size (default 300; --quick 50)"
    )
    bench.add_argument(
        "--tracker-fill-seconds",
        type=float,
        help="longest time to build one size's active stories; a size not reached gets no rate "
        "(default 300; --quick 20)",
    )
    bench.add_argument(
        "--tracker-measure-seconds",
        type=float,
        help="longest time to track the real posts at one size (default 60; --quick 10)",
    )
    bench.add_argument(
        "--latency-articles", type=int, help="posts sent at the offered rate (default 300; --quick 50)"
    )
    bench.add_argument(
        "--latency-rate", type=float, default=10.0, help="offered load in articles/s (default 10)"
    )
    bench.add_argument(
        "--bootstrap-servers", help="use this Kafka broker instead of starting one on free ports"
    )
    bench.add_argument("--workdir", type=Path, help="keep the broker data and worker logs here")
    bench.add_argument("--seed", type=int, default=4, help="seed of the synthetic stories (default 4)")
    bench.add_argument("--json", type=Path, help="also write the figures as JSON here")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")

    schemas = commands.add_parser("schemas", help="write or check the JSON Schemas of the wire records")
    schemas.add_argument("--check", action="store_true", help="exit 1 when schemas/ is out of date")
    schemas.add_argument("--dir", type=Path, default=SCHEMA_DIR, help=f"schema folder (default {SCHEMA_DIR})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python narrates every connection at INFO; its warnings are what matter to a person here.
    logging.getLogger("kafka").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return int(_COMMANDS[args.command](args))
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DeliveryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _worker(args: argparse.Namespace) -> int:
    from streams.app import create_app
    from streams.topics import ensure_topics

    settings = _settings(args)
    if args.web_port:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"web_port": args.web_port})}
        )
    created = ensure_topics(settings.kafka)
    if created:
        logging.getLogger("streams").info("created topics: %s", ", ".join(created))
    app = create_app(settings)
    sys.argv = [
        "streams",
        "worker",
        "--loglevel",
        args.loglevel,
        "--web-port",
        str(settings.worker.web_port),
        "--web-host",
        settings.worker.web_host,
    ]
    app.main()
    return 0


def _offline(args: argparse.Namespace) -> int:
    from streams.embedding import create_embedder
    from streams.offline import assignment_lines, model_lines, run_offline, write_jsonl
    from streams.sources import read_messages

    if not args.input.exists():
        raise ConfigurationError(f"input file {args.input} does not exist")
    settings = _settings(args)
    embedder = create_embedder(settings.embedder)
    result = run_offline(
        read_messages(args.input),
        settings,
        embedder,
        since=args.since,
        until=args.until,
        progress=not args.no_progress,
    )
    write_jsonl(args.assignments, assignment_lines(result))
    write_jsonl(args.alerts, model_lines(result.alerts))
    if args.rejects:
        write_jsonl(args.rejects, model_lines(result.rejections))
    if args.stories:
        write_jsonl(args.stories, model_lines(result.snapshots[key] for key in sorted(result.snapshots)))
    print(
        f"{len(result.assignments)} articles in {len(result.snapshots)} stories, "
        f"{len(result.alerts)} alerts, {len(result.rejections)} rejected",
        file=sys.stderr,
    )
    return 0


def _replay(args: argparse.Namespace) -> int:
    from streams.replay import replay_file, replay_items, replay_topic_range
    from streams.sources import read_messages
    from streams.topics import ensure_topics

    settings = _settings(args)
    if not args.from_prefix:
        # Usage errors first: they need no broker.
        if args.file is None:
            raise ConfigurationError("give a FILE to replay, or --from-prefix to copy a topic's time range")
        if not args.file.exists():
            raise ConfigurationError(f"file {args.file} does not exist")
        if args.speed is None and not args.max_rate:
            raise ConfigurationError("choose a pace: --speed N (event seconds per second) or --max-rate")
        if args.speed is not None and args.speed <= 0:
            raise ConfigurationError("--speed must be positive")
    ensure_topics(settings.kafka)
    if args.from_prefix:
        source = settings.kafka.model_copy(update={"topic_prefix": args.from_prefix})
        stats = replay_topic_range(
            source, settings.kafka, args.since, args.until, progress=not args.no_progress
        )
    else:
        items = replay_items(read_messages(args.file))
        stats = replay_file(items, settings.kafka, args.speed, progress=not args.no_progress)
    print(f"sent {stats.sent} messages in {stats.seconds:.1f}s", file=sys.stderr)
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from streams.alert_feed import consume_alerts, format_alert

    for alert in consume_alerts(_settings(args).kafka, follow=args.follow):
        print(alert.model_dump_json() if args.json else format_alert(alert), flush=True)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from streams.embedding import create_embedder
    from streams.evaluation.runner import evaluate, format_report, write_report

    gold = args.data / "gold"
    days = args.day or sorted(
        date.fromisoformat(path.name.removeprefix("dev-").removesuffix(".labels.jsonl"))
        for path in gold.glob("dev-*.labels.jsonl")
        if "second-annotator" not in path.name
    )
    if not days:
        raise ConfigurationError(f"no gold days found in {gold}: is --data the evaluation data folder?")
    settings = _settings(args)
    if args.topic_clustering:
        return _topic_clustering(args, settings)
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


def _topic_clustering(args: argparse.Namespace, settings: Settings) -> int:
    from streams.embedding import CachingEmbedder, HashingEmbedder, create_embedder
    from streams.evaluation.runner import write_report
    from streams.evaluation.topic_clustering import evaluate_topic_clustering, format_topic_report

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


def _topics(args: argparse.Namespace) -> int:
    from streams.topics import ensure_topics

    created = ensure_topics(_settings(args).kafka)
    print(f"created: {', '.join(created)}" if created else "all topics exist", file=sys.stderr)
    return 0


def _distill(args: argparse.Namespace) -> int:
    import itertools
    import json

    from streams.distill import DEFAULT_CENTERED, DEFAULT_THRESHOLD, DistillOptions, distill, read_corpus
    from streams.embedding import create_embedder
    from streams.settings import EmbedderSettings

    if args.min_count < 1 or args.max_words < 1 or args.dimensions < 0 or args.sif < 0:
        raise ConfigurationError("--min-count and --max-words must be positive, --dimensions and --sif >= 0")
    for path in [*args.corpus, *args.fit_corpus]:
        if not path.is_file():
            raise ConfigurationError(f"corpus file {path} does not exist")
    options = DistillOptions(
        min_count=args.min_count,
        max_words=args.max_words,
        dimensions=args.dimensions or None,
        sif=args.sif or None,
        ridge=args.ridge,
        threshold=DEFAULT_THRESHOLD if args.threshold is None else args.threshold,
        centered=DEFAULT_CENTERED if args.center is None else args.center,
    )
    # The teacher is always the bundled e5 with its passage prefix, whatever the configured backend.
    teacher = create_embedder(EmbedderSettings(backend="e5", threads=_settings(args).embedder.threads))
    report = distill(
        itertools.chain.from_iterable(read_corpus(path, args.until) for path in args.corpus),
        teacher,
        args.output,
        options,
        cache_dir=args.cache,
        progress=not args.no_progress,
        sources=[path.name for path in args.corpus],
        fit_documents=itertools.chain.from_iterable(
            read_corpus(path, args.until) for path in args.fit_corpus
        ),
    )
    print(
        f"{report.vocabulary} words x {report.dimension} dimensions from {report.documents} documents "
        f"({report.coverage:.1%} of {report.corpus_words} word occurrences covered) in "
        f"{report.total_seconds:.0f}s (teacher {report.teacher_seconds:.0f}s) -> {report.folder}\n"
        f"use it: STREAMS_EMBEDDER__BACKEND=sentence-transformers STREAMS_EMBEDDER__MODEL={report.folder}",
        file=sys.stderr,
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.as_dict(), indent=2) + "\n", encoding="utf-8")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json
    import shlex

    from streams.benchmarks import BenchConfig, run_benchmark, summary

    quick = args.quick

    def pick[T](value: T | None, full: T, smoke: T) -> T:
        return value if value is not None else (smoke if quick else full)

    try:
        sizes = tuple(int(size) for size in args.tracker_sizes.split(",") if size.strip())
    except ValueError:
        raise ConfigurationError("--tracker-sizes takes comma-separated whole numbers") from None
    limit = pick(args.limit, 500, 64)
    if limit < 0 or any(size < 1 for size in sizes) or args.latency_rate <= 0:
        raise ConfigurationError("--limit must be >= 0, tracker sizes >= 1, --latency-rate > 0")
    skip = frozenset(
        part
        for part in ("normalize", "embed", "tracker", "offline", "kafka")
        if getattr(args, f"skip_{part}")
    )
    config = BenchConfig(
        data=args.data or BenchConfig().data,
        limit=limit or None,
        embedders=tuple(args.embedder or ("e5", "hashing")),
        model=args.model,
        skip=skip,
        normalize_seconds=0.5 if quick else 3.0,
        tracker_sizes=sizes,
        tracker_articles=pick(args.tracker_articles, 300, 50),
        tracker_fill_seconds=pick(args.tracker_fill_seconds, 300.0, 20.0),
        tracker_measure_seconds=pick(args.tracker_measure_seconds, 60.0, 10.0),
        latency_articles=pick(args.latency_articles, 300, 50),
        latency_rate=args.latency_rate,
        bootstrap_servers=args.bootstrap_servers,
        workdir=args.workdir,
        seed=args.seed,
        command=shlex.join(["python", "-m", "streams", *sys.argv[1:]]),
        extra={"quick": quick},
    )
    report = run_benchmark(config, progress=not args.no_progress)
    print(summary(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 1 if report["errors"] else 0


def _schemas(args: argparse.Namespace) -> int:
    from streams.schemas import render_schemas

    stale = []
    for name, text in render_schemas().items():
        path = args.dir / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python -m streams schemas", file=sys.stderr)
        return 1
    return 0


_COMMANDS = {
    "worker": _worker,
    "offline": _offline,
    "replay": _replay,
    "alerts": _alerts,
    "evaluate": _evaluate,
    "topics": _topics,
    "distill": _distill,
    "bench": _bench,
    "schemas": _schemas,
}
