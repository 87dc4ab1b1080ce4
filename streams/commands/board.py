"""``python -m streams board``: the live story board for analysts, in a browser."""

from __future__ import annotations

import argparse
import asyncio
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.commands.options import Subcommands, add_kafka_options, settings_from
from streams.errors import ConfigurationError


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "board",
        help="serve the story board: stories and alerts in a browser, live and for past ranges",
        description="A web page (right-to-left, in Persian) of the stories ranked by emergence, their posts "
        "and alerts, updated live; and the same as JSON under /api/. It reads the topics of one prefix from "
        "their start, so after a replay it also shows past time ranges.",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to serve on (default 8080)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 for every interface)"
    )
    parser.add_argument(
        "--timezone", default="Asia/Tehran", help="time zone the board shows times in (default Asia/Tehran)"
    )
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from aiohttp import web

    from streams.board.view import BoardView
    from streams.board.web import SIGNAL, create_board_app
    from streams.core.emergence import EmergenceRule
    from streams.kafka.board_reader import TopicReader
    from streams.kafka.connection import check_broker

    try:
        zone = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"unknown time zone {args.timezone!r} (e.g. Asia/Tehran, UTC)") from None
    settings = settings_from(args)
    # A wrong address, certificate or login is the person's to fix: one line now, not a page that stays empty.
    # Once serving, the board outlives broker restarts.
    check_broker(settings.kafka)
    view = BoardView(EmergenceRule.from_settings(settings.alerts))
    reader = TopicReader(settings.kafka, view)

    def status() -> dict[str, object]:
        return {"connected": reader.connected, "records_read": reader.records_read}

    app = create_board_app(view, zone, status)

    async def start_reading(app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        signal = app[SIGNAL]

        def notify() -> None:
            loop.call_soon_threadsafe(signal.notify)

        reader.on_change = notify
        reader.start()

    async def stop_reading(app: web.Application) -> None:
        reader.stop()

    app.on_startup.append(start_reading)
    app.on_cleanup.append(stop_reading)
    url = f"http://{'127.0.0.1' if args.host in {'0.0.0.0', '::'} else args.host}:{args.port}/"
    print(
        f"board: {url} (topics {settings.kafka.topic_prefix}.* on {settings.kafka.bootstrap_servers})",
        file=sys.stderr,
        flush=True,
    )
    try:
        web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    except OSError as error:
        raise ConfigurationError(
            f"cannot serve on {args.host}:{args.port} ({error.strerror}); try --port"
        ) from None
    return 0
