"""``python -m streams distill``: a fast static Persian embedder distilled from e5."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import (
    Subcommands,
    settings_from,
    timestamp,
)
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "distill",
        help="distill a fast static Persian embedder from the e5 model (for fast replays)",
        description="Build a sentence-transformers StaticEmbedding model: the bundled e5 model embeds every "
        "word of a vocabulary counted over Persian news text (normalized as the pipeline does), the word "
        "vectors are PCA-reduced and SIF-weighted, and a text becomes the average of its words. Use it with "
        "STREAMS_EMBEDDER__BACKEND=sentence-transformers STREAMS_EMBEDDER__MODEL=OUTPUT; its join threshold "
        "and centering are stored in the folder. Deterministic given the corpus and the options.",
    )
    parser.add_argument(
        "--corpus",
        type=Path,
        action="append",
        required=True,
        help="Persian text: .jsonl (articles), .json (a list of objects with title/summary/abstract/"
        "paragraphs/text), .txt (a document a line), optionally .gz; repeatable",
    )
    parser.add_argument(
        "--until", type=timestamp, help="leave out corpus records published at or after this time"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(".cache/models/persian-static"),
        help="model folder to write (default .cache/models/persian-static)",
    )
    parser.add_argument("--min-count", type=int, default=2, help="a word must occur this often (default 2)")
    parser.add_argument("--max-words", type=int, default=50_000, help="vocabulary size cap (default 50000)")
    parser.add_argument(
        "--dimensions", type=int, default=256, help="PCA dimensions kept, 0 for none (default 256)"
    )
    parser.add_argument(
        "--sif", type=float, default=1e-3, help="SIF weighting a/(a+p(word)), 0 for none (default 0.001)"
    )
    parser.add_argument(
        "--fit-corpus",
        type=Path,
        action="append",
        default=[],
        help="documents (same formats) the teacher embeds whole; the word vectors are then fitted so that "
        "each document's word average matches its teacher vector (slower: the teacher reads every "
        "document; repeatable)",
    )
    parser.add_argument(
        "--ridge", type=float, default=1.0, help="with --fit-corpus: pull towards the words' own vectors"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        help="join threshold stored with the model (default: the one calibrated for the default recipe)",
    )
    parser.add_argument(
        "--center",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="store 'centered cosines' with the model (default: on)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(".cache/distill"),
        help="teacher vector cache folder (default .cache/distill; reruns skip the teacher)",
    )
    parser.add_argument("--json", type=Path, help="also write the distillation report as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import itertools
    import json

    from streams.core.embedding import create_embedder
    from streams.settings import EmbedderSettings
    from streams.tools.distill import (
        DEFAULT_CENTERED,
        DEFAULT_THRESHOLD,
        DistillOptions,
        distill,
        read_corpus,
    )

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
    teacher = create_embedder(EmbedderSettings(backend="e5", threads=settings_from(args).embedder.threads))
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
