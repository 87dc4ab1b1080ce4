"""Topic names and definitions, and creating them on the broker (kafka-python admin client)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from streams.kafka.connection import broker_errors, check_broker, command_client_options
from streams.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Every topic of the pipeline, sharing one prefix."""

    articles: str
    embedded: str
    assignments: str
    stories: str
    alerts: str
    rejected: str
    checkpoints: str

    @classmethod
    def from_prefix(cls, prefix: str) -> TopicNames:
        return cls(
            articles=f"{prefix}.articles",
            embedded=f"{prefix}.articles.embedded",
            assignments=f"{prefix}.assignments",
            stories=f"{prefix}.stories",
            alerts=f"{prefix}.alerts",
            rejected=f"{prefix}.articles.rejected",
            checkpoints=f"{prefix}.tracker.checkpoints",
        )


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    """The topology: many input partitions (stateless stage scales out), one partition for the tracker."""
    names = TopicNames.from_prefix(settings.topic_prefix)
    size = str(settings.fetch_max_bytes)
    keep = {"retention.ms": "-1", "max.message.bytes": size}
    compacted = {"cleanup.policy": "compact", "max.message.bytes": size}
    return [
        TopicSpec(names.articles, settings.articles_partitions, keep),
        # One partition: a single story tracker owns the global view of all stories.
        TopicSpec(names.embedded, 1, keep),
        TopicSpec(names.assignments, 1, compacted),
        TopicSpec(names.stories, 1, compacted),
        TopicSpec(names.alerts, 1, keep),
        TopicSpec(names.rejected, 1, keep),
        # The story tracker's state, written every few thousand articles (streams/checkpoint.py).
        TopicSpec(names.checkpoints, 1, compacted),
    ]


def ensure_topics(settings: KafkaSettings, timeout_s: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are.

    Raises ``BrokerUnavailable`` (a ``ConfigurationError``) within seconds when the broker cannot be
    reached, refuses the TLS handshake or the credentials.
    """
    with _admin(settings, timeout_s) as admin:
        existing = set(admin.list_topics())
        missing = {
            spec.name: {
                "num_partitions": spec.partitions,
                "replication_factor": settings.replication_factor,
                "configs": spec.configs,
            }
            for spec in topic_specs(settings)
            if spec.name not in existing
        }
        if missing:
            admin.create_topics(missing, timeout_ms=int(timeout_s * 1000), wait_for_metadata=True)
        return sorted(missing)


def existing_topics(settings: KafkaSettings, timeout_s: float = 30.0) -> set[str]:
    """The names of the broker's topics (``BrokerUnavailable`` as ``ensure_topics``)."""
    with _admin(settings, timeout_s) as admin:
        return set(admin.list_topics())


@contextlib.contextmanager
def _admin(settings: KafkaSettings, timeout_s: float) -> Iterator[Any]:
    """An admin client of the broker once it answered (checked first: an answer within seconds)."""
    from kafka.admin import KafkaAdminClient

    check_broker(settings)
    with broker_errors(settings):
        admin = KafkaAdminClient(**command_client_options(settings), request_timeout_ms=int(timeout_s * 1000))
        try:
            yield admin
        finally:
            admin.close()
