"""Command line: ``python -m streams COMMAND`` (``--help`` on each).

One module per command beside this one, each with its parser (``register``) and its ``run``; this module
only assembles them and turns the errors a user can cause into one line and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from streams.commands import (
    alerts,
    bench,
    bench_board,
    board,
    bundle_encoder,
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
from streams.kafka.connection import quiet_client_log

# In the order ``--help`` lists them.
COMMANDS = (
    worker,
    offline,
    replay,
    alerts,
    board,
    evaluate,
    topics,
    distill,
    export_e5,
    export_onnx,
    train_encoder,
    bundle_encoder,
    train_linker,
    bench,
    bench_board,
    schemas,
)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (what is wrong, where the help is), not the usage block and then the line."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    # The commands turn kafka-python's failures into one line of their own; its log is for -v.
    quiet_client_log(args.verbose)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return int(run(args))
    except ConfigurationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except DeliveryError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        # A file that cannot be read or written (the commands check their inputs; this is the rest).
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
