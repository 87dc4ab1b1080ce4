"""``python -m streams topics``: create the pipeline's missing topics."""

from __future__ import annotations

import argparse
import sys

from streams.commands.options import (
    Subcommands,
    add_kafka_options,
    settings_from,
)


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("topics", help="create the pipeline's topics that are missing")
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka.topics import ensure_topics

    created = ensure_topics(settings_from(args).kafka)
    print(f"created: {', '.join(created)}" if created else "all topics exist", file=sys.stderr)
    return 0
