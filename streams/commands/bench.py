"""``python -m streams bench``: every stage against its limit, side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import get_args

from streams.commands.options import Subcommands, resolved_model
from streams.errors import ConfigurationError
from streams.settings import EmbedderBackend


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bench",
        help="measure every stage against its limit, side by side (figures as JSON)",
        description="Measure in one run, side by side: normalization, embedding (each embedder and the raw "
        "e5 model as its limit), the story tracker at 1,000/10,000/100,000 active stories, the whole "
        "Detector in-process, and the same posts through a real Kafka broker and worker (throughput, "
        "latency at 10 articles/s, peak memory). Method and figures: docs/PERFORMANCE.md.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="articles, JSON lines (.jsonl or .jsonl.gz); default: the bundled sample. The real stream: "
        "../shared/data/telegram/articles.jsonl.gz",
    )
    parser.add_argument(
        "--limit", type=int, help="posts from the start of the file, 0 for all (default 500; --quick 64)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and short budgets: a smoke run")
    parser.add_argument(
        "--embedder",
        action="append",
        choices=list(get_args(EmbedderBackend)),
        help="an embedder to measure (repeatable; default: onnx, the committed event encoder, then e5 "
        "and hashing); the first is the one the tracker, offline and Kafka figures use",
    )
    parser.add_argument("--model", help="sentence-transformers model name or local path")
    for part in ("normalize", "embed", "tracker", "offline", "kafka"):
        parser.add_argument(f"--skip-{part}", action="store_true", help=f"do not measure {part}")
    parser.add_argument(
        "--tracker-sizes",
        default="1000,10000,100000",
        help="active story counts to measure the tracker at (default 1000,10000,100000)",
    )
    parser.add_argument(
        "--tracker-articles", type=int, help="real posts tracked per size (default 300; --quick 50)"
    )
    parser.add_argument(
        "--tracker-fill-seconds",
        type=float,
        help="longest time to build one size's active stories; a size not reached gets no rate "
        "(default 300; --quick 20)",
    )
    parser.add_argument(
        "--tracker-measure-seconds",
        type=float,
        help="longest time to track the real posts at one size (default 60; --quick 10)",
    )
    parser.add_argument(
        "--latency-articles", type=int, help="posts sent at the offered rate (default 300; --quick 50)"
    )
    parser.add_argument(
        "--latency-rate", type=float, default=10.0, help="offered load in articles/s (default 10)"
    )
    parser.add_argument(
        "--bootstrap-servers", help="use this Kafka broker instead of starting one on free ports"
    )
    parser.add_argument("--workdir", type=Path, help="keep the broker data and worker logs here")
    parser.add_argument("--seed", type=int, default=4, help="seed of the synthetic stories (default 4)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import shlex

    from streams.tools.benchmarks import BenchConfig, run_benchmark, summary

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
        embedders=tuple(args.embedder or BenchConfig().embedders),
        model=resolved_model(args.model) if args.model else None,
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
