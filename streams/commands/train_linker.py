"""``python -m streams train-linker``: fit the learned join decision on the gold training days."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.options import Subcommands, add_embedder_options, settings_from
from streams.core.story_linking import bundled_linker_file
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "train-linker",
        help="fit the learned join decision (story linker) on the gold training days",
        description="Runs the training days under the rule, describes each article's candidate stories "
        "with story-level features, fits a logistic model (deterministic) and selects its join threshold on "
        "the development days. The bundled linkers (streams/models/story_linker*.json) are this command's "
        "output for their embedders; rerunning it rebuilds the file exactly. Use another file with "
        "STREAMS_TRACKER__LINKER=PATH.",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="the evaluation data folder, e.g. ../shared/data"
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="linker file to write (default: the package's file for a bundled embedder, "
        "streams/models/story_linker.event-encoder.json for the default, story_linker.json for e5; "
        "required for any other embedder)",
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
    output = args.output or bundled_linker_file(settings.embedder)
    if output is None:
        raise ConfigurationError(
            "--output is needed: this embedder has no bundled linker file (e.g. --output my-linker.json)"
        )
    try:
        linker, report = train_linker(
            args.data, settings, create_embedder(settings.embedder), args.cache, progress=not args.no_progress
        )
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from error
    checksum = write_linker(linker, output)
    print(describe_report(report))
    print(f"wrote {output} (sha256 {checksum})", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0
