"""``python -m streams bundle-encoder``: rebuild (or check) the committed event encoder from a trained one."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import Subcommands


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bundle-encoder",
        help="copy a trained encoder's int8 graph, tokenizer and usage into the package (or check them)",
        description="Writes the files the onnx backend reads (int8 graph, export report, tokenizer, window, "
        "declared usage) of a folder that train-encoder and export-onnx completed into "
        "streams/models/event-encoder/ with their SHA256SUMS, which a fresh clone selects with "
        "STREAMS_EMBEDDER__BACKEND=onnx STREAMS_EMBEDDER__MODEL=bundled:event-encoder. With --check, "
        "writes nothing and says whether the folder rebuilds the committed files byte for byte.",
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="the trained folder (export-onnx completed)"
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="where to write (default: the package's event-encoder)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with the committed SHA256SUMS instead of writing"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.tools.encoder_bundle import BUNDLED_ENCODER, bundle_encoder, differences

    destination = args.output or BUNDLED_ENCODER
    if args.check:
        changed = differences(args.model, destination)
        if changed:
            print(f"differs from the committed bundle: {', '.join(changed)}", file=sys.stderr)
            return 1
        print(f"{args.model} rebuilds {destination} byte for byte", file=sys.stderr)
        return 0
    for name, digest in bundle_encoder(args.model, destination).items():
        print(f"{digest}  {name}")
    print(f"wrote {destination}", file=sys.stderr)
    return 0
