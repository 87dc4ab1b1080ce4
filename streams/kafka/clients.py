"""kafka-python connection options from the settings, one definition for every client the commands,
the checkpoint store, the replay and the story board open."""

from __future__ import annotations

from typing import Any

from streams.settings import KafkaSettings


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
