"""``python -m streams train-linker``: fit the learned join decision on the gold training days."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.options import Subcommands, add_embedder_options, settings_from
from streams.core.story_linking import BUNDLED_LINKER
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "train-linker",
        help="fit the learned join decision (story linker) on the gold training days",
        description="Runs the training days under the rule, describes each article's candidate stories "
        "with story-level features, fits a logistic model (deterministic) and selects its join threshold on "
        "the development days. The bundled linker (streams/models/story_linker.json) is this command's "
        "output with the default settings; rerunning it rebuilds the file exactly. Use another file with "
        "STREAMS_TRACKER__LINKER=PATH.",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="the evaluation data folder, e.g. ../shared/data"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=BUNDLED_LINKER,
        help=f"linker file to write (default the bundled {BUNDLED_LINKER.name})",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(".cache/evaluation"),
        help="embedding cache folder, shared with evaluate (default .cache/evaluation)",
    )
    parser.add_argument("--json", type=Path, help="also write the report (dev figures per threshold) here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_embedder_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.core.embedding import create_embedder
    from streams.tools.linker_training import describe_report, train_linker, write_linker

    settings = settings_from(args)
    try:
        linker, report = train_linker(
            args.data, settings, create_embedder(settings.embedder), args.cache, progress=not args.no_progress
        )
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from error
    checksum = write_linker(linker, args.output)
    print(describe_report(report))
    print(f"wrote {args.output} (sha256 {checksum})", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0
