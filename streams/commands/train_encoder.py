"""``python -m streams train-encoder``: fine-tune the e5 encoder on the training days' same-story pairs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.options import Subcommands
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "train-encoder",
        help="fine-tune the e5 encoder for event identity on the gold training days",
        description="Contrastive fine-tuning of a sentence-transformers e5 folder (python -m streams "
        "export-e5) on the same-story pairs of the gold training days, in-batch negatives, word embeddings "
        "frozen. Prints the development days' same-story ranking before and after each epoch (never trained "
        "on). Use the result: STREAMS_EMBEDDER__BACKEND=sentence-transformers "
        "STREAMS_EMBEDDER__MODEL=OUTPUT.",
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="the evaluation data folder, e.g. ../shared/data"
    )
    parser.add_argument("--base", type=Path, required=True, help="the exported e5 folder to start from")
    parser.add_argument("--output", type=Path, required=True, help="folder to write the trained model to")
    parser.add_argument("--epochs", type=int, default=1, help="passes over the pairs (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="pairs per step (default 32)")
    parser.add_argument(
        "--learning-rate", type=float, default=2e-5, help="AdamW learning rate (default 2e-5)"
    )
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the pair order (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument(
        "--hard-negatives",
        action="store_true",
        help="add to each pair a post of the same day and gold topic from another story as a negative",
    )
    parser.add_argument(
        "--join-threshold",
        type=float,
        default=None,
        help="the centered-cosine join threshold the trained folder declares (default: the base's, 0.45 "
        "for e5; trained cosines sit higher, the bundled event encoder declares 0.55)",
    )
    parser.add_argument(
        "--mined-pairs",
        type=int,
        default=0,
        metavar="N",
        help="also train on at most N self-supervised pairs mined from the unlabelled posts before the "
        "cut-off (two channels, within 3 h, word TF-IDF cosine 0.35-0.9), never from the development "
        "days' windows (default 0: none)",
    )
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in OUTPUT")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.tools.encoder_training import TrainingOptions, train_encoder

    if args.epochs < 1 or args.batch_size < 2 or args.learning_rate <= 0 or args.max_length < 8:
        raise ConfigurationError("--epochs >= 1, --batch-size >= 2, --learning-rate > 0, --max-length >= 8")
    if args.mined_pairs < 0:
        raise ConfigurationError(f"--mined-pairs must be 0 or more, not {args.mined_pairs}")
    if args.join_threshold is not None and not -1 < args.join_threshold < 1:
        raise ConfigurationError(
            f"--join-threshold must be a cosine between -1 and 1, not {args.join_threshold}"
        )
    options = TrainingOptions(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seed=args.seed,
        threads=args.threads,
        hard_negatives=args.hard_negatives,
        join_threshold=args.join_threshold,
        mined_pairs=args.mined_pairs,
    )
    try:
        report = train_encoder(
            args.data, args.base, args.output, options, resume=args.resume, progress=not args.no_progress
        )
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from error
    print(json.dumps({"before": report.get("before"), "epochs": report["epochs"]}, indent=2), file=sys.stderr)
    return 0
