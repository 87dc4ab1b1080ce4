"""``python -m streams worker``: the Faust worker (creates missing topics first)."""

from __future__ import annotations

import argparse
import logging
import sys

from streams.commands.options import (
    Subcommands,
    add_embedder_options,
    add_kafka_options,
    settings_from,
)


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("worker", help="run the Faust worker (creates missing topics first)")
    add_kafka_options(parser)
    add_embedder_options(parser)
    parser.add_argument(
        "--web-port", type=int, help="web/metrics port (default: STREAMS_WORKER__WEB_PORT or 6066)"
    )
    parser.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka.app import create_app
    from streams.kafka.topics import ensure_topics

    settings = settings_from(args)
    if args.web_port:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"web_port": args.web_port})}
        )
    # Fails within seconds, in one line, when the broker cannot be reached or refuses the client (the
    # worker's own clients would retry for ever).
    created = ensure_topics(settings.kafka)
    if created:
        logging.getLogger("streams").info("created topics: %s", ", ".join(created))
    # A running service's log keeps the client's warnings (the commands quiet them; see main).
    logging.getLogger("kafka").propagate = True
    app = create_app(settings)
    sys.argv = [
        "streams",
        "worker",
        "--loglevel",
        args.loglevel,
        "--web-port",
        str(settings.worker.web_port),
        "--web-host",
        settings.worker.web_host,
    ]
    app.main()
    return 0
