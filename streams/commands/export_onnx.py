"""``python -m streams export-onnx``: the int8 (and fp32) ONNX graphs of an exported e5 folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from streams.commands.options import Subcommands


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "export-onnx",
        help="add int8 and fp32 ONNX graphs to an e5 sentence-transformers folder (the fast encoder)",
        description="Traces the folder's transformer with mean pooling to ONNX, fuses attention and "
        "layer norms, and quantizes it to int8 (dynamic activations, per-channel weights), into MODEL/onnx/; "
        "checks both graphs against the folder's own vectors. Use it: STREAMS_EMBEDDER__BACKEND=onnx "
        "STREAMS_EMBEDDER__MODEL=MODEL (STREAMS_EMBEDDER__PRECISION=fp32 for the fp32 graph).",
    )
    parser.add_argument(
        "--model", type=Path, required=True, help="the folder python -m streams export-e5 wrote"
    )
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument(
        "--smoothing-alpha",
        type=float,
        default=None,
        help="how much of the activations' outlier range moves into the int8 weights before quantization "
        "(SmoothQuant's alpha, 0 to 1; 0: none; default 0.75)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from streams.errors import ConfigurationError
    from streams.tools.activation_smoothing import DEFAULT_ALPHA
    from streams.tools.onnx_export import export_onnx

    alpha = DEFAULT_ALPHA if args.smoothing_alpha is None else args.smoothing_alpha
    if not 0 <= alpha <= 1:
        raise ConfigurationError(f"--smoothing-alpha must be between 0 and 1, not {alpha}")
    report = export_onnx(args.model, threads=args.threads, smoothing_alpha=alpha)
    print(json.dumps(asdict(report), indent=2))
    print(f"wrote {args.model / 'onnx'}", file=sys.stderr)
    return 0
