"""Why an input message is refused: the reason codes that reach the dead-letter topic and the metrics."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    """Stable, documented reason codes (part of the rejection schema: add, never rename)."""

    INVALID_ENCODING = "invalid_encoding"
    TOO_LARGE = "too_large"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    INVALID_TIMESTAMP = "invalid_timestamp"
    # Published later than the wall clock's now (plus a tolerance): nothing is published in the future, and
    # letting it in would move the event clock ahead for good (every story would then expire).
    FUTURE_TIMESTAMP = "future_timestamp"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    NOT_PERSIAN = "not_persian"
    DUPLICATE_ID = "duplicate_id"


class ArticleRejected(Exception):
    """Raised by validation and normalization; carries the reason code and a message for people."""

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ConfigurationError(Exception):
    """A setting is missing or inconsistent; the message says which and how to fix it."""


class DeliveryError(Exception):
    """The broker refused messages a command produced: nothing may be lost silently."""


class BrokerUnavailable(ConfigurationError):
    """Kafka cannot be reached, refused the TLS handshake or the login, or timed out; the message says where
    and which settings to check. A ``ConfigurationError``: what a person fixes is a setting or the broker."""
