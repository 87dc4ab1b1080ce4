"""``python -m streams schemas``: write or check the JSON Schemas of the wire records."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from streams.commands.options import (
    Subcommands,
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("schemas", help="write or check the JSON Schemas of the wire records")
    parser.add_argument("--check", action="store_true", help="exit 1 when schemas/ is out of date")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help=f"schema folder (default {SCHEMA_DIR})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.schemas import render_schemas

    stale = []
    for name, text in render_schemas().items():
        path = args.dir / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python -m streams schemas", file=sys.stderr)
        return 1
    return 0
