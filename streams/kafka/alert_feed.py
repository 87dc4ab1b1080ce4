"""Reading the alerts topic for people: ``python -m streams alerts --follow``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pydantic import ValidationError

from streams.kafka.topics import TopicNames, client_options
from streams.records import Alert
from streams.settings import KafkaSettings


def format_alert(alert: Alert) -> str:
    """A few lines an editor can read at a glance."""
    at = alert.at.strftime("%Y-%m-%d %H:%M %z")
    first = alert.first_seen.strftime("%H:%M")
    parts = alert.score.components
    return (
        f"[{at}] {alert.type.upper()}  {alert.headline}\n"
        f"    {alert.article_count} articles, {parts.window_sources} sources in the burst "
        f"({', '.join(alert.sources)}); first seen {first}; score {alert.score.value:.2f}\n"
        f"    keywords: {'، '.join(alert.keywords)}\n"
        f"    story {alert.story_id}  alert {alert.alert_id}"
    )


def consume_alerts(settings: KafkaSettings, follow: bool, from_beginning: bool = True) -> Iterator[Alert]:
    """Alerts from the topic, each alert id once (delivery is at-least-once; ids are stable)."""
    from kafka import KafkaConsumer, TopicPartition

    topic = TopicNames.from_prefix(settings.topic_prefix).alerts
    consumer = KafkaConsumer(**client_options(settings), group_id=None, enable_auto_commit=False)
    seen: set[str] = set()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or {0})]
        consumer.assign(partitions)
        if from_beginning:
            consumer.seek_to_beginning(*partitions)
        else:
            consumer.seek_to_end(*partitions)
        end = consumer.end_offsets(partitions)
        while True:
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        alert = Alert.model_validate_json(record.value)
                    except ValidationError as error:
                        print(f"skipping a record that is not an alert: {error}", file=sys.stderr)
                        continue
                    if alert.alert_id not in seen:
                        seen.add(alert.alert_id)
                        yield alert
            if not follow and all(consumer.position(tp) >= end[tp] for tp in partitions):
                return
    finally:
        consumer.close()
