"""Topic names and definitions, and creating them on the broker (kafka-python admin client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.errors import ConfigurationError
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


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python connection options, security included (passwords never logged)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(settings, name)
        if value:
            options[name] = value
    return options


def describe_connection(settings: KafkaSettings) -> str:
    """Where and how the clients connect, for error messages: never the password."""
    parts = [settings.bootstrap_servers, settings.security_protocol]
    if settings.security_protocol.startswith("SASL"):
        parts.append(f"{settings.sasl_mechanism or 'PLAIN'} as user {settings.sasl_username!r}")
    return ", ".join(parts)


def ensure_topics(settings: KafkaSettings, timeout_s: float = 30.0) -> list[str]:
    """Create the missing topics; return the names created. Existing topics are left as they are.

    Raises ``ConfigurationError`` when the broker cannot be reached or refuses the credentials.
    """
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout_s * 1000))
    except KafkaError as error:
        # kafka-python retries a refused login until its timeout; its log names the cause
        # (e.g. SaslAuthenticationFailedError), this message what to check.
        raise ConfigurationError(
            f"cannot connect to Kafka ({describe_connection(settings)}): {error}. Check "
            "STREAMS_KAFKA__BOOTSTRAP_SERVERS and the STREAMS_KAFKA__SECURITY_PROTOCOL / SASL_* / SSL_* "
            "settings (a refused login is logged above as an authentication failure)"
        ) from None
    try:
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
    finally:
        admin.close()
