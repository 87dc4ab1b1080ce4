"""Command line: ``python -m streams COMMAND`` (``--help`` on each).

One module per command beside this one, each with its parser (``register``) and its ``run``; this module
only assembles them and turns the errors a user can cause into one line and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from streams.commands import (
    alerts,
    bench,
    distill,
    evaluate,
    export_e5,
    export_onnx,
    offline,
    replay,
    schemas,
    topics,
    train_encoder,
    train_linker,
    worker,
)
from streams.errors import ConfigurationError, DeliveryError

# In the order ``--help`` lists them.
COMMANDS = (
    worker,
    offline,
    replay,
    alerts,
    evaluate,
    topics,
    distill,
    export_e5,
    export_onnx,
    train_encoder,
    train_linker,
    bench,
    schemas,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m streams",
        description="Streaming event detection for Persian news. Settings come from STREAMS_* environment "
        "variables (see .env.example); the options below override them.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # kafka-python narrates every connection at INFO; its warnings are what matter to a person here.
    logging.getLogger("kafka").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return int(run(args))
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DeliveryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
