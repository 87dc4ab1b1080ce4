"""``python -m streams offline``: the Detector in-process over a file, no Kafka (the reference run)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import (
    Subcommands,
    add_embedder_options,
    settings_from,
    timestamp,
)
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "offline",
        help="run the Detector in-process over a file (no Kafka)",
        description="Run the Detector over a JSON-lines file. Writes one {id, story_id} line per accepted "
        "article in input order, and every alert as a JSON line. Deterministic: the same input gives "
        "byte-identical files.",
    )
    parser.add_argument(
        "--input", type=Path, required=True, help="articles, JSON lines (.jsonl or .jsonl.gz)"
    )
    parser.add_argument(
        "--assignments", type=Path, required=True, help="output: one {id, story_id} per article"
    )
    parser.add_argument("--alerts", type=Path, required=True, help="output: alerts, JSON lines")
    parser.add_argument("--rejects", type=Path, help="output: rejected input with reasons, JSON lines")
    parser.add_argument("--stories", type=Path, help="output: the final snapshot of every story")
    parser.add_argument("--since", type=timestamp, help="only published_at >= this (ISO-8601 with offset)")
    parser.add_argument("--until", type=timestamp, help="only published_at < this (ISO-8601 with offset)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_embedder_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.core.embedding import create_embedder
    from streams.files import read_messages, write_jsonl
    from streams.offline import assignment_lines, model_lines, run_offline

    if not args.input.exists():
        raise ConfigurationError(f"input file {args.input} does not exist")
    settings = settings_from(args)
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
