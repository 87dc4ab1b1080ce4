"""``python -m streams alerts``: the alerts topic for people to read."""

from __future__ import annotations

import argparse

from streams.commands.options import (
    Subcommands,
    add_kafka_options,
    settings_from,
)


def register(commands: Subcommands) -> None:
    parser = commands.add_parser("alerts", help="print alerts from the alerts topic for people to read")
    parser.add_argument("--follow", action="store_true", help="keep waiting for new alerts (Ctrl-C stops)")
    parser.add_argument("--json", action="store_true", help="print the alert records as JSON lines")
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from streams.kafka.alert_feed import consume_alerts, format_alert

    for alert in consume_alerts(settings_from(args).kafka, follow=args.follow):
        print(alert.model_dump_json() if args.json else format_alert(alert), flush=True)
    return 0
