"""Input validation (parse_article), dead letters (reject) and the wire encoding of vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from streams.errors import ArticleRejected, RejectReason
from streams.records import (
    RAW_PREVIEW_BYTES,
    Article,
    EmbeddedArticle,
    parse_article,
    parse_timestamp,
    reject,
)

MAX_BYTES = 64 * 1024
MAX_TEXT = 1000


def parse(raw: bytes, max_bytes: int = MAX_BYTES, max_text_chars: int = MAX_TEXT) -> Article:
    return parse_article(raw, max_bytes=max_bytes, max_text_chars=max_text_chars)


def reason_of(raw: bytes, **limits: int) -> RejectReason:
    with pytest.raises(ArticleRejected) as caught:
        parse(raw, **limits)
    return caught.value.reason


# ------------------------------------------------------------------------------------------- valid input


def test_every_valid_line_of_the_sample_parses(
    sample_lines: list[Any], readme_malformed: dict[int, str]
) -> None:
    # Valid posts, plus the two malformed lines that only later stages refuse (duplicate id, English text).
    later = {
        number for number, reason in readme_malformed.items() if reason in ("duplicate_id", "not_persian")
    }
    candidates = [line for line in sample_lines if line.is_valid or line.number in later]
    assert len(candidates) == sum(1 for line in sample_lines if line.is_valid) + 2
    for line in candidates:
        article = parse(line.raw, max_text_chars=100_000)
        assert article.id == line.payload["id"]
        assert article.text == line.payload["text"]
        assert article.source == line.payload["source"]
        assert article.url == line.payload["url"]
        assert article.published_at == datetime.fromisoformat(line.payload["published_at"])
        assert article.metadata == {"sample_story": line.payload["sample_story"]}


def test_unknown_fields_land_in_metadata_as_they_came(article_json: Callable[..., bytes]) -> None:
    extra = {"views": 1234, "forwarded_from": {"channel": "x", "ids": [1, 2]}, "pinned": None}
    article = parse(article_json(title="تیتر", url="https://t.me/channel/1", **extra))
    assert article.metadata == extra
    assert article.title == "تیتر"
    assert article.url == "https://t.me/channel/1"


def test_optional_fields_may_be_absent_or_null(article_json: Callable[..., bytes], missing: object) -> None:
    article = parse(article_json(source=missing, title=None, url=None))
    assert (article.source, article.title, article.url) == (None, None, None)
    assert article.metadata == {}


def test_offset_is_kept_and_z_means_utc(article_json: Callable[..., bytes]) -> None:
    tehran = parse(article_json(published_at="2026-03-02T10:00:00+03:30")).published_at
    assert tehran.utcoffset() == timedelta(hours=3, minutes=30)
    utc = parse(article_json(published_at="2026-03-02T06:30:00Z")).published_at
    assert utc == tehran


def test_limits_are_inclusive(article_json: Callable[..., bytes]) -> None:
    raw = article_json(text="خبر" * 10)
    assert parse(raw, max_bytes=len(raw)).id == "channel/1"
    assert parse(article_json(text="خ" * MAX_TEXT)).text == "خ" * MAX_TEXT


def test_article_round_trips_through_its_json(article_json: Callable[..., bytes]) -> None:
    article = parse(article_json(extra={"a": [1, 2.5, "ب"]}))
    assert Article.model_validate_json(article.to_json_bytes()) == article


# ------------------------------------------------------------------------------------------ each fault


def test_invalid_utf8_is_invalid_encoding(article_json: Callable[..., bytes]) -> None:
    raw = article_json()
    assert reason_of(raw[:20] + b"\xff\xfe" + raw[20:]) == RejectReason.INVALID_ENCODING
    # A multi-byte character cut in half is invalid too.
    assert reason_of("خبر".encode()[:-1]) == RejectReason.INVALID_ENCODING


def test_a_lone_surrogate_escape_is_invalid_encoding(article_json: Callable[..., bytes]) -> None:
    # Valid JSON, but "\ud800" decodes to a string that cannot be written as UTF-8 again downstream.
    for fields in ({"text": "خبر \ud800 مهم"}, {"id": "\udfff"}, {"extra": {"k\ud83d": 1}}):
        raw = json.dumps(json.loads(article_json()) | fields).encode("ascii")
        assert reason_of(raw) == RejectReason.INVALID_ENCODING
    # A proper surrogate pair (an emoji written as escapes) is fine.
    assert parse(json.dumps(json.loads(article_json()) | {"title": "🔴"}).encode("ascii")).title == "🔴"


def test_too_large_is_checked_before_anything_else() -> None:
    assert reason_of(b"\xff" * 101, max_bytes=100) == RejectReason.TOO_LARGE


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b'{"id": "x", "text": "cut', b"{'id': 'x'}", b'{"id": 1,}', b"not json", b"\x00"],
    ids=["empty", "open-brace", "truncated", "single-quotes", "trailing-comma", "words", "nul"],
)
def test_malformed_json(raw: bytes) -> None:
    assert reason_of(raw) == RejectReason.MALFORMED_JSON


def test_an_integer_too_long_for_python_is_malformed_json() -> None:
    # json.loads raises a plain ValueError (not JSONDecodeError) beyond sys.get_int_max_str_digits().
    assert reason_of(b'{"id": ' + b"7" * 5000 + b"}") == RejectReason.MALFORMED_JSON


@pytest.mark.parametrize("raw", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000])
def test_deeply_nested_json_does_not_crash(raw: bytes) -> None:
    assert reason_of(raw, max_bytes=len(raw)) in (RejectReason.MALFORMED_JSON, RejectReason.NOT_AN_OBJECT)


@pytest.mark.parametrize("raw", [b"[]", b'[{"id": "x"}]', b'"text"', b"42", b"null", b"true"])
def test_not_an_object(raw: bytes) -> None:
    assert reason_of(raw) == RejectReason.NOT_AN_OBJECT


@pytest.mark.parametrize("field", ["id", "text", "published_at"])
def test_missing_or_null_required_field(
    field: str, article_json: Callable[..., bytes], missing: object
) -> None:
    for value in (missing, None):
        with pytest.raises(ArticleRejected) as caught:
            parse(article_json(**{field: value}))
        assert caught.value.reason == RejectReason.MISSING_FIELD
        assert f"'{field}'" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"id": ""}, RejectReason.INVALID_FIELD),
        ({"id": "   "}, RejectReason.INVALID_FIELD),
        ({"id": "x" * 513}, RejectReason.INVALID_FIELD),
        ({"id": 73105}, RejectReason.INVALID_FIELD),
        ({"id": ["a"]}, RejectReason.INVALID_FIELD),
        ({"text": 12345}, RejectReason.INVALID_FIELD),
        ({"text": ["خبر"]}, RejectReason.INVALID_FIELD),
        ({"text": ""}, RejectReason.EMPTY_TEXT),
        ({"text": " \n\t  \n"}, RejectReason.EMPTY_TEXT),
        ({"source": 5}, RejectReason.INVALID_FIELD),
        ({"title": ["a"]}, RejectReason.INVALID_FIELD),
        ({"url": {"href": "x"}}, RejectReason.INVALID_FIELD),
        ({"published_at": 1772430000}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "yesterday"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "2026-03-02T10:00:00"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "2026-03-02"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "2026-13-02T10:00:00+03:30"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "2026-03-02T10:00:00+25:00"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "2026-03-02T10:00:00+03:30:15"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "0001-01-01T00:00:00+00:00"}, RejectReason.INVALID_TIMESTAMP),
        ({"published_at": "1969-12-31T23:59:59Z"}, RejectReason.INVALID_TIMESTAMP),
        ({"text": "خ" * (MAX_TEXT + 1)}, RejectReason.TEXT_TOO_LONG),
    ],
)
def test_invalid_fields(
    fields: dict[str, Any], reason: RejectReason, article_json: Callable[..., bytes]
) -> None:
    assert reason_of(article_json(**fields)) == reason


def test_naive_timestamp_message_says_how_to_fix_it(article_json: Callable[..., bytes]) -> None:
    with pytest.raises(ArticleRejected) as caught:
        parse(article_json(published_at="2026-03-02T10:00:00"))
    assert "UTC offset" in caught.value.message
    assert "+03:30" in caught.value.message


def test_parse_timestamp_accepts_the_epoch_and_later() -> None:
    assert parse_timestamp("1970-01-01T00:00:00+00:00") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_timestamp("9999-12-31T23:59:59+03:30").year == 9999


def test_huge_text_is_refused_by_size_before_it_is_decoded(article_json: Callable[..., bytes]) -> None:
    raw = article_json(text="خبر " * 2_000_000)
    assert reason_of(raw, max_bytes=25 * 1024 * 1024) == RejectReason.TEXT_TOO_LONG
    assert reason_of(raw, max_bytes=1024 * 1024) == RejectReason.TOO_LARGE


def test_rejected_carries_reason_and_message() -> None:
    error = ArticleRejected(RejectReason.EMPTY_TEXT, "'text' is empty")
    assert str(error) == "empty_text: 'text' is empty"


# ------------------------------------------------------------------------------------------ dead letters


def test_reject_keeps_a_valid_message_whole() -> None:
    raw = '{"id": "a", "text": "خبر"}'.encode()
    rejection = reject(
        RejectReason.MISSING_FIELD, "no time", raw, article_id="a", input_partition=3, input_offset=7
    )
    assert rejection.raw == raw.decode()
    assert rejection.raw_bytes == len(raw)
    assert rejection.raw_truncated is False
    assert (rejection.reason, rejection.article_id, rejection.input_partition, rejection.input_offset) == (
        "missing_field",
        "a",
        3,
        7,
    )


def test_reject_keeps_the_longest_valid_utf8_prefix() -> None:
    raw = "سلام".encode() + b"\xff" + "دنیا".encode()
    rejection = reject(RejectReason.INVALID_ENCODING, "bad byte", raw)
    assert rejection.raw == "سلام"
    assert rejection.raw_bytes == len(raw)
    assert rejection.raw_truncated is True


def test_reject_caps_the_preview_without_splitting_a_character() -> None:
    # 3 bytes of ASCII and then two-byte letters: the cap falls in the middle of a letter.
    raw = b"abc" + "خ".encode() * RAW_PREVIEW_BYTES
    rejection = reject(RejectReason.TOO_LARGE, "big", raw)
    assert rejection.raw_truncated is True
    assert rejection.raw_bytes == len(raw)
    encoded = rejection.raw.encode()
    assert len(encoded) == RAW_PREVIEW_BYTES - 1
    assert raw.startswith(encoded)


@given(st.binary(max_size=300))
def test_reject_raw_is_always_a_prefix_of_the_message(raw: bytes) -> None:
    rejection = reject(RejectReason.MALFORMED_JSON, "x", raw)
    encoded = rejection.raw.encode("utf-8")
    assert raw.startswith(encoded)
    assert rejection.raw_truncated == (len(encoded) < len(raw))
    rejection.to_json_bytes()  # always serializable


# ---------------------------------------------------------------------------------------------- vectors


@given(npst.arrays(np.float32, st.integers(0, 64), elements=st.floats(width=32, allow_nan=True)))
def test_vector_encoding_round_trips_bit_for_bit(vector: np.ndarray[Any, Any]) -> None:
    article = EmbeddedArticle(
        id="a",
        published_at=datetime(2026, 3, 2, tzinfo=UTC),
        headline="h",
        tokens=[],
        embedding=EmbeddedArticle.encode_vector(vector),
        embedder="test",
    )
    # Through the wire JSON too, as a consumer of the embedded topic reads it.
    decoded = EmbeddedArticle.model_validate_json(article.to_json_bytes()).vector()
    assert decoded.dtype == np.float32
    assert decoded.tobytes() == vector.astype(np.float32).tobytes()


# ------------------------------------------------------------------------------------------- properties


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_an_article_or_a_rejection(raw: bytes) -> None:
    try:
        article = parse(raw)
    except ArticleRejected as error:
        assert isinstance(error.reason, RejectReason)
        return
    assert isinstance(article, Article)


_JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_OFFSETS = st.timedeltas(
    min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59)
)
_AWARE = st.datetimes(timezones=st.builds(timezone, _OFFSETS)).map(datetime.isoformat)
# Mostly well-formed values, so that many examples get past validation to serialization.
_TIMESTAMPS = st.one_of(
    _AWARE, _AWARE, _AWARE, st.datetimes().map(datetime.isoformat), st.text(max_size=30), _JSON
)
_IDS = st.one_of(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20), _JSON)
# Also strings with lone surrogates, which json.dumps writes as \ud800-style escapes.
_PIECES = st.sampled_from(["خبر", " ", "\n", "\ud800", "\udc00", "🔴", "a", "\x00"])
_TEXTS = st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=8).map("".join), _JSON)


@given(
    fields=st.fixed_dictionaries(
        {"id": _IDS, "text": _TEXTS, "published_at": _TIMESTAMPS},
        optional={"source": st.text(max_size=10) | _JSON, "title": _TEXTS, "url": _TEXTS},
    ),
    extra=st.dictionaries(st.text(max_size=8), _JSON, max_size=3),
)
def test_arbitrary_json_objects_give_a_serializable_article_or_a_rejection(
    fields: dict[str, Any], extra: dict[str, Any]
) -> None:
    raw = json.dumps(extra | fields).encode("utf-8")
    try:
        article = parse(raw)
    except ArticleRejected:
        return
    # What is accepted can travel on a topic: it serializes and reads back the same.
    assert Article.model_validate_json(article.to_json_bytes()) == article
