"""Reading the alerts topic for people: ``python -m streams alerts --follow``."""

from __future__ import annotations

import sys
from collections.abc import Iterator

from pydantic import ValidationError

from streams.errors import ConfigurationError
from streams.kafka.connection import broker_errors, check_broker, command_client_options
from streams.kafka.topics import TopicNames
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
    """Alerts from the topic, each alert id once (delivery is at-least-once; ids are stable).

    Raises ``BrokerUnavailable`` within seconds when the broker cannot be reached or refuses the client,
    and ``ConfigurationError`` when the alerts topic does not exist."""
    from kafka import KafkaConsumer, TopicPartition

    topic = TopicNames.from_prefix(settings.topic_prefix).alerts
    check_broker(settings)
    with broker_errors(settings):
        # No auto-creation: a mistyped prefix is an error, not a new empty topic.
        consumer = KafkaConsumer(
            **command_client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            allow_auto_create_topics=False,
        )
        seen: set[str] = set()
        try:
            known = consumer.partitions_for_topic(topic)
            if not known:
                raise ConfigurationError(
                    f"there is no topic {topic} on the broker. Check --prefix / STREAMS_KAFKA__TOPIC_PREFIX "
                    "(python -m streams topics creates the pipeline's topics)"
                )
            partitions = [TopicPartition(topic, p) for p in sorted(known)]
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
