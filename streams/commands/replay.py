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
    from streams.kafka.connection import broker_errors
    from streams.kafka.replay import replay_file, replay_items, replay_topic_range
    from streams.kafka.topics import TopicNames, ensure_topics, existing_topics

    settings = settings_from(args)
    source_file: Path | None = args.file
    if not args.from_prefix:
        # Usage errors first: they need no broker.
        if source_file is None:
            raise ConfigurationError("give a FILE to replay, or --from-prefix to copy a topic's time range")
        if not source_file.exists():
            raise ConfigurationError(f"file {source_file} does not exist")
        if args.speed is None and not args.max_rate:
            raise ConfigurationError("choose a pace: --speed N (event seconds per second) or --max-rate")
        if args.speed is not None and args.speed <= 0:
            raise ConfigurationError("--speed must be positive")
        if args.since or args.until:
            raise ConfigurationError(
                "--since and --until choose a range of --from-prefix's topic, not of a FILE"
            )
    elif source_file is not None:
        raise ConfigurationError("give either a FILE or --from-prefix, not both")
    elif args.since and args.until and args.since >= args.until:
        raise ConfigurationError("--since must be before --until")
    ensure_topics(settings.kafka)
    if args.from_prefix:
        source = settings.kafka.model_copy(update={"topic_prefix": args.from_prefix})
        source_topic = TopicNames.from_prefix(args.from_prefix).articles
        if source_topic not in existing_topics(source):
            raise ConfigurationError(f"there is no topic {source_topic} to copy from: check --from-prefix")
        with broker_errors(settings.kafka):
            stats = replay_topic_range(
                source, settings.kafka, args.since, args.until, progress=not args.no_progress
            )
    else:
        assert source_file is not None  # checked above
        items = replay_items(read_messages(source_file))
        with broker_errors(settings.kafka):
            stats = replay_file(items, settings.kafka, args.speed, progress=not args.no_progress)
    print(f"sent {stats.sent} messages in {stats.seconds:.1f}s", file=sys.stderr)
    return 0
