"""``python -m streams bench-board``: the story board's own load in a real headless Chromium."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from streams.commands.options import Subcommands
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "bench-board",
        help="measure the story board with N active stories in headless Chromium (target: 1,000 in < 1 s)",
    )
    parser.add_argument(
        "--stories", type=int, default=1000, help="active stories on the board (default 1000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="page loads measured (default 5; the median counts)"
    )
    parser.add_argument("--seed", type=int, default=4, help="seed of the synthetic stories (default 4)")
    parser.add_argument("--chromium", help="the browser binary (default: chromium on PATH)")
    parser.add_argument("--chromedriver", help="the driver binary (default: chromedriver on PATH)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from streams.tools.benchmarks.board_render import measure
    except ImportError as error:
        raise ConfigurationError(f"{error.name} is missing: pip install -e '.[dev]'") from None
    try:
        figures = measure(
            args.stories, args.repeats, args.seed, args.chromium, args.chromedriver, not args.no_progress
        )
    except FileNotFoundError as error:
        raise ConfigurationError(str(error)) from None
    for name, value in figures.items():
        print(f"{name:28} {value}")
    verdict = "met" if figures["board_page_load_ok"] else "MISSED"
    print(
        f"target: {args.stories} stories load in < {figures['board_page_load_target_ms']:.0f} ms: {verdict}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0
