"""``python -m streams replay``: a file, or another prefix's input topic range, into the input topic."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import (
    Subcommands,
    add_kafka_options,
    settings_from,
    timestamp,
)
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "replay",
        help="produce a historic file (or a time range of an input topic) into the input topic",
        description="Produce FILE into the input topic in published_at order, each message timestamped with "
        "its published_at. Or, with --from-prefix, copy the [--since, --until) range of another prefix's "
        "input topic into this prefix's, to re-run history after a model or threshold change.",
    )
    parser.add_argument("file", type=Path, nargs="?", help="articles, JSON lines (.jsonl or .jsonl.gz)")
    pace = parser.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, help="play N seconds of event time per wall-clock second")
    pace.add_argument("--max-rate", action="store_true", help="send as fast as possible")
    parser.add_argument("--from-prefix", help="copy from this prefix's input topic instead of a file")
    parser.add_argument(
        "--since", type=timestamp, help="with --from-prefix: range start (ISO-8601 with offset)"
    )
    parser.add_argument("--until", type=timestamp, help="with --from-prefix: range end (exclusive)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.files import read_messages
    from streams.kafka.replay import replay_file, replay_items, replay_topic_range
    from streams.kafka.topics import ensure_topics

    settings = settings_from(args)
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
