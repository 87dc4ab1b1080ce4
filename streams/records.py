"""Wire records: what travels on the topics and in the offline command's files.

Every record carries ``schema_version``. The JSON Schemas in ``schemas/`` are generated from these models
(``python -m streams schemas``) and a test keeps them in step. Compatible changes (a new optional
field) keep the version; anything else bumps it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from streams.codecs import decode_float32, encode_float32
from streams.errors import ArticleRejected, RejectReason

SCHEMA_VERSION = 1
# The earliest ``published_at`` accepted: the Unix epoch, where Kafka message timestamps start.
EARLIEST_TIMESTAMP = datetime(1970, 1, 1, tzinfo=UTC)
# Fields of the input article the detector knows; anything else is kept in ``metadata``.
_ARTICLE_FIELDS = ("id", "text", "published_at", "source", "title", "url")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=False).encode("utf-8")


class Article(_Record):
    """An input article (the format of the project's sample and of the Telegram dataset)."""

    id: str = Field(min_length=1, max_length=512)
    text: str
    published_at: AwareDatetime
    source: str | None = None
    title: str | None = None
    url: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Unknown input fields, kept as they came"
    )


class EmbeddedArticle(_Record):
    """An article after normalization and embedding: the story tracker's input."""

    id: str
    published_at: AwareDatetime
    source: str | None = None
    headline: str = Field(description="First meaningful line of the normalized text (or the title)")
    tokens: list[str] = Field(description="Content tokens of the normalized text, stopwords removed")
    embedding: str = Field(description="Little-endian float32 vector, base64")
    embedder: str
    input_partition: int = 0
    input_offset: int = -1

    def vector(self) -> NDArray[np.float32]:
        return decode_float32(self.embedding)

    @staticmethod
    def encode_vector(vector: NDArray[np.float32]) -> str:
        return encode_float32(vector)


class LinkExplanation(BaseModel):
    """Why the learned linker joined an article to a story or opened a new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate: str = Field(description="Most probable candidate story: joined when probability >= threshold")
    probability: float
    threshold: float
    features: dict[str, float]
    merged: dict[str, float] | None = Field(
        default=None,
        description="Other candidate stories the article also belonged to by the linker (id: probability), "
        "merged with the joined one into the older (the assignment's story); null when none",
    )


class Assignment(_Record):
    """Which story an article joined (keyed by article id on the assignments topic)."""

    id: str
    story_id: str
    published_at: AwareDatetime
    similarity: float = Field(
        description="Joining score against the story (>= 0 joins, see streams/core/story_tracker.py); "
        "0 for an opener"
    )
    new_story: bool
    link: LinkExplanation | None = Field(
        default=None,
        description="With the learned linker: its most probable candidate story, the probability and the "
        "features behind it (streams/core/story_linking.py); null under the rule",
    )


class StorySnapshot(_Record):
    """The state of a story after a change (compacted topic, keyed by story id)."""

    story_id: str
    status: Literal["active", "closed"]
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    article_count: int
    sources: dict[str, int]
    headline: str
    keywords: list[str]
    article_ids: list[str] = Field(description="The story's most recent article ids (at most 100)")
    merged_into: str | None = Field(
        default=None,
        description="Set when the story closed by merging into that story (the same event told twice "
        "until then): its articles belong to that story now",
    )


class ScoreComponents(_Record):
    """The parts of an emergence score, so an analyst can see why an alert fired."""

    window_articles: int = Field(description="Articles in the burst window ending at the alert")
    window_sources: int = Field(description="Distinct sources in the burst window")
    rate_per_hour: float
    age_minutes: float = Field(description="Minutes from the story's first article to the alert")
    sustained_articles: int | None = Field(
        default=None, description="Articles in the sustained-coverage window (null: that path is off)"
    )
    sustained_sources: int | None = Field(
        default=None, description="Distinct sources in the sustained-coverage window"
    )


class Score(_Record):
    value: float
    components: ScoreComponents


class Alert(_Record):
    """An emerging-story alert, the product's output for newsrooms."""

    alert_id: str = Field(
        description="Stable id: the same story crossing the same threshold gives the same id"
    )
    type: Literal["emerging"]
    story_id: str
    at: AwareDatetime = Field(description="Event time (published_at) of the article that triggered the alert")
    headline: str
    keywords: list[str]
    article_ids: list[str]
    sources: list[str]
    article_count: int
    first_seen: AwareDatetime
    score: Score


class Rejection(_Record):
    """A dead letter: an input message the detector refused, with the reason."""

    reason: RejectReason
    message: str
    article_id: str | None = None
    raw: str = Field(description="The original message as text (its longest valid UTF-8 prefix), capped")
    raw_bytes: int = Field(description="Size of the original message in bytes")
    raw_truncated: bool
    at: datetime | None = Field(default=None, description="Event time of the detector when it refused it")
    input_partition: int | None = None
    input_offset: int | None = None


RAW_PREVIEW_BYTES = 64 * 1024


def reject(
    reason: RejectReason,
    message: str,
    raw: bytes,
    *,
    article_id: str | None = None,
    at: datetime | None = None,
    input_partition: int | None = None,
    input_offset: int | None = None,
) -> Rejection:
    """Build a rejection that keeps as much of the original message as is valid text."""
    preview = raw[:RAW_PREVIEW_BYTES]
    try:
        text = preview.decode("utf-8")
    except UnicodeDecodeError as error:
        text = preview[: error.start].decode("utf-8", errors="ignore")
    return Rejection(
        reason=reason,
        message=message,
        article_id=article_id,
        raw=text,
        raw_bytes=len(raw),
        raw_truncated=len(text.encode("utf-8")) < len(raw),
        at=at,
        input_partition=input_partition,
        input_offset=input_offset,
    )


def parse_article(raw: bytes, *, max_bytes: int, max_text_chars: int) -> Article:
    """Decode and validate one input message, or raise ``ArticleRejected`` saying exactly what is wrong."""
    if len(raw) > max_bytes:
        raise ArticleRejected(
            RejectReason.TOO_LARGE, f"message is {len(raw)} bytes, the limit is {max_bytes}"
        )
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ArticleRejected(
            RejectReason.INVALID_ENCODING, f"not valid UTF-8 at byte {error.start}: {error.reason}"
        ) from None
    try:
        payload = json.loads(decoded)
    except (ValueError, RecursionError) as error:
        # ValueError: JSONDecodeError, and integers longer than Python's int digit limit.
        raise ArticleRejected(RejectReason.MALFORMED_JSON, f"not valid JSON: {error}") from None
    if "\\u" in decoded and _has_lone_surrogate(payload):
        raise ArticleRejected(
            RejectReason.INVALID_ENCODING, "a \\u escape encodes a lone UTF-16 surrogate (not a character)"
        )
    if not isinstance(payload, dict):
        raise ArticleRejected(
            RejectReason.NOT_AN_OBJECT, f"expected a JSON object, got {type(payload).__name__}"
        )
    return article_from_mapping(payload, max_text_chars=max_text_chars)


def _has_lone_surrogate(value: object) -> bool:
    """Whether a decoded JSON value holds a string that UTF-8 cannot encode (from a ``\\ud800`` escape)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def article_from_mapping(payload: dict[str, Any], *, max_text_chars: int) -> Article:
    """Validate an already-decoded JSON object as an input article."""
    for name in ("id", "text", "published_at"):
        if name not in payload or payload[name] is None:
            raise ArticleRejected(RejectReason.MISSING_FIELD, f"required field '{name}' is missing")
    article_id, text, published = payload["id"], payload["text"], payload["published_at"]
    if not isinstance(article_id, str) or not article_id.strip() or len(article_id) > 512:
        raise ArticleRejected(
            RejectReason.INVALID_FIELD, "'id' must be a non-empty string of at most 512 chars"
        )
    if not isinstance(text, str):
        raise ArticleRejected(
            RejectReason.INVALID_FIELD, f"'text' must be a string, got {type(text).__name__}"
        )
    if not text.strip():
        raise ArticleRejected(RejectReason.EMPTY_TEXT, "'text' is empty")
    if len(text) > max_text_chars:
        raise ArticleRejected(
            RejectReason.TEXT_TOO_LONG, f"'text' has {len(text)} characters, the limit is {max_text_chars}"
        )
    published_at = parse_timestamp(published)
    optional: dict[str, str | None] = {}
    for name in ("source", "title", "url"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            raise ArticleRejected(RejectReason.INVALID_FIELD, f"'{name}' must be a string when present")
        optional[name] = value
    metadata = {key: value for key, value in payload.items() if key not in _ARTICLE_FIELDS}
    return Article(id=article_id, text=text, published_at=published_at, metadata=metadata, **optional)


def _peek(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return payload if isinstance(payload, dict) else {}


def peek(raw: bytes) -> tuple[str | None, datetime | None]:
    """The message's ``id`` (a string) and valid ``published_at``, each when present, even when the rest of
    it is invalid: for dead letters, time windows and replay keys. One JSON parse for both."""
    payload = _peek(raw)
    article_id = payload.get("id")
    try:
        published_at: datetime | None = parse_timestamp(payload.get("published_at"))
    except ArticleRejected:
        published_at = None
    if not isinstance(article_id, str) or not article_id or _has_lone_surrogate(article_id):
        # An id from a lone \ud800 escape cannot be written as UTF-8 (a dead letter or a Kafka key).
        article_id = None
    return (article_id[:512] if article_id else None), published_at


def peek_published_at(raw: bytes) -> datetime | None:
    """The message's valid ``published_at`` if it has one, even when the rest of it is invalid."""
    return peek(raw)[1]


def peek_article_id(raw: bytes) -> str | None:
    """The message's ``id`` if it is a string, even when the rest of it is invalid (for dead letters)."""
    return peek(raw)[0]


def parse_timestamp(value: object) -> datetime:
    """ISO-8601 with an explicit offset; naive times are refused because they are ambiguous."""
    if not isinstance(value, str):
        raise ArticleRejected(RejectReason.INVALID_TIMESTAMP, "'published_at' must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ArticleRejected(
            RejectReason.INVALID_TIMESTAMP, f"'published_at' is not ISO-8601: {value[:64]!r}"
        ) from None
    offset = parsed.utcoffset()
    if offset is None:
        raise ArticleRejected(
            RejectReason.INVALID_TIMESTAMP,
            f"'published_at' has no UTC offset: {value[:64]!r} (write e.g. 2026-03-02T10:00:00+03:30)",
        )
    if offset % timedelta(minutes=1):
        # Python parses "+03:30:15", but RFC 3339 and the wire format (pydantic) only know whole minutes.
        raise ArticleRejected(
            RejectReason.INVALID_TIMESTAMP, f"'published_at' has an offset with seconds: {value[:64]!r}"
        )
    if parsed < EARLIEST_TIMESTAMP:
        # Kafka timestamps start at the epoch, and event-time arithmetic near year 1 overflows.
        raise ArticleRejected(
            RejectReason.INVALID_TIMESTAMP, f"'published_at' is before 1970-01-01T00:00:00Z: {value[:64]!r}"
        )
    return parsed
