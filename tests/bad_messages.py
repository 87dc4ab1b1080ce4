"""A hand-made corpus of bad input messages, each with the rejection the detector must give it.

Shared by the unit tests (``tests/unit/test_bad_input_corpus.py``: the preparer and the ``offline`` command)
and the integration tests (``tests/integration/test_bad_input_on_kafka.py``: the same bytes through the real
broker and the worker). Every message is one line: no raw ``\\n`` or ``\\r``, so a file of them has one
message per line. ``tests/conftest.py`` puts this folder on ``sys.path``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.settings import KafkaSettings

# The good articles' event times; far enough in the past for any wall clock these tests run under.
T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
QUAKE = (
    "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند",
    "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "زلزله شدید ۵.۸ ریشتری شهرستان راور کرمان را لرزاند",
    "پس لرزه زلزله ۵.۸ ریشتری راور در استان کرمان",
)
FIRE = (
    "آتش‌سوزی گسترده در مرکز خرید نیلوفر خیابان جمهوری تهران؛ ایستگاه‌های آتش‌نشانی اعزام شدند",
    "آتش‌سوزی مرکز خرید نیلوفر در خیابان جمهوری تهران مهار شد",
    "مهار آتش‌سوزی گسترده مرکز خرید نیلوفر تهران پس از سه ساعت",
)
TWENTY_MB = 20 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One input message and what must become of it (``reason`` None: it is accepted), and the id that its
    assignment or its rejection carries."""

    name: str
    raw: bytes
    reason: str | None
    article_id: str | None = None


def article(article_id: str, text: str, minutes: float = 0, source: str = "s1", **fields: Any) -> bytes:
    payload: dict[str, Any] = {
        "id": article_id,
        "source": source,
        "published_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "text": text,
        **fields,
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _with(**fields: Any) -> bytes:
    """A valid article with ``fields`` replaced; a field given as ``...`` is left out."""
    payload: dict[str, Any] = {"id": "x", "source": "s1", "published_at": T0.isoformat(), "text": QUAKE[0]}
    payload.update(fields)
    kept = {key: value for key, value in payload.items() if value is not ...}
    try:
        return json.dumps(kept, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only its \u escape can carry it
        return json.dumps(kept).encode("ascii")


def good_cases() -> list[Case]:
    """A quake story from three sources and a fire story from two: valid, in the past, Persian."""
    sources = ("s1", "s2", "s3", "s1")
    cases = [
        Case(f"quake {i}", article(f"quake/{i}", text, i * 5, sources[i]), None, f"quake/{i}")
        for i, text in enumerate(QUAKE)
    ]
    cases += [
        Case(f"fire {i}", article(f"fire/{i}", text, 60 + i * 7, ("s2", "s3", "s2")[i]), None, f"fire/{i}")
        for i, text in enumerate(FIRE)
    ]
    return cases


def bad_cases(kafka: KafkaSettings | None = None) -> list[Case]:
    """Every kind of bad input the issue names, with the reason code and article id the rejection carries.

    Includes a 20 MB message and one just over ``kafka.max_message_bytes`` (both big: build once).
    """
    limit = (kafka or KafkaSettings()).max_message_bytes
    noise = random.Random(6)
    random_bytes = bytes(noise.choice([b for b in range(256) if b not in b"\n\r"]) for _ in range(4096))
    nested_deep = b"[" * 100_000 + b"]" * 100_000
    good = article("trunc/1", QUAKE[0])
    cases = [
        # Not text, not JSON.
        Case("random bytes", b"\xff" + random_bytes, "invalid_encoding"),
        Case(
            "invalid UTF-8 inside a string",
            _with(id="bad-utf8/1", text="@@").replace(b"@@", b"\xc3\x28"),
            "invalid_encoding",
        ),
        Case("overlong UTF-8", b'{"id": "\xc0\xaf"}', "invalid_encoding"),
        Case(
            "lone surrogate escape in the text",
            _with(id="surrogate/1", text="\ud800 زلزله"),
            "invalid_encoding",
            "surrogate/1",
        ),
        Case("lone surrogate escape in the id", _with(id="\udfff"), "invalid_encoding"),
        Case("control characters", b"\x00\x01\x02\x1b[31m", "malformed_json"),
        Case("truncated JSON", good[: len(good) // 2], "malformed_json"),
        Case("truncated JSON at a brace", b'{"id": "t/2", "text": {', "malformed_json"),
        Case("deeply nested arrays", nested_deep, "malformed_json"),
        Case("deeply nested objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "malformed_json"),
        Case("an integer too long for Python", b'{"id": ' + b"9" * 5000 + b"}", "malformed_json"),
        Case("trailing garbage", _with(id="trail/1") + b" }{", "malformed_json"),
        Case("a JSON array", b"[1, 2, 3]", "not_an_object"),
        Case("a JSON string", b'"\xd8\xb2\xd9\x84\xd8\xb2\xd9\x84\xd9\x87"', "not_an_object"),
        Case("a JSON number", b"42", "not_an_object"),
        Case("JSON null", b"null", "not_an_object"),
        # Missing, null and empty fields.
        Case("an empty object", b"{}", "missing_field"),
        Case("no id", _with(id=...), "missing_field"),
        Case("null id", _with(id=None), "missing_field"),
        Case("no text", _with(id="notext/1", text=...), "missing_field", "notext/1"),
        Case("no published_at", _with(id="notime/1", published_at=...), "missing_field", "notime/1"),
        Case("empty id", _with(id=""), "invalid_field"),
        Case("blank id", _with(id="   "), "invalid_field", "   "),
        Case("blank text", _with(id="blank/1", text=" \u200c\t "), "empty_text", "blank/1"),
        Case(
            "empty published_at", _with(id="emptytime/1", published_at=""), "invalid_timestamp", "emptytime/1"
        ),
        # Wrong types.
        Case("numeric id", _with(id=17), "invalid_field"),
        Case("id too long", _with(id="i" * 600), "invalid_field", "i" * 512),
        Case("text as a list", _with(id="listtext/1", text=["زلزله"]), "invalid_field", "listtext/1"),
        Case("text as a number", _with(id="numtext/1", text=3.5), "invalid_field", "numtext/1"),
        Case("source as an object", _with(id="objsource/1", source={"a": 1}), "invalid_field", "objsource/1"),
        Case("title as a bool", _with(id="booltitle/1", title=True), "invalid_field", "booltitle/1"),
        Case(
            "published_at as epoch seconds",
            _with(id="epoch/1", published_at=1772431200),
            "invalid_timestamp",
            "epoch/1",
        ),
        Case(
            "published_at NaN",
            _with(id="nan/1", published_at="@@").replace(b'"@@"', b"NaN"),
            "invalid_timestamp",
            "nan/1",
        ),
        Case(
            "naive published_at",
            _with(id="naive/1", published_at="2026-03-02T10:00:00"),
            "invalid_timestamp",
            "naive/1",
        ),
        Case(
            "published_at before 1970",
            _with(id="old/1", published_at="1969-12-31T23:59:59Z"),
            "invalid_timestamp",
            "old/1",
        ),
        Case(
            "published_at not a date", _with(id="word/1", published_at="دیروز"), "invalid_timestamp", "word/1"
        ),
        # Far-future times would move the event clock ahead for good.
        Case(
            "published_at in 2100",
            _with(id="future/1", published_at="2100-01-01T00:00:00+03:30"),
            "future_timestamp",
            "future/1",
        ),
        Case(
            "published_at at the end of the calendar",
            _with(id="future/2", published_at="9999-12-31T23:59:59-12:00"),
            "future_timestamp",
            "future/2",
        ),
        # Texts that are not Persian.
        Case(
            "English",
            _with(id="en/1", text="Earthquake of magnitude 5.8 hits Kerman province"),
            "not_persian",
            "en/1",
        ),
        Case(
            "Russian",
            _with(id="ru/1", text="Землетрясение магнитудой 5,8 произошло в провинции Керман"),
            "not_persian",
            "ru/1",
        ),
        Case(
            "only emoji and links",
            _with(id="emoji/1", text="🔴🔴 https://t.me/x 🆔 @x"),
            "not_persian",
            "emoji/1",
        ),
        # Size limits: a 20 MB message (within the message limit, over the text limit), and one over the
        # message limit (never parsed, not even for its id).
        Case("a 20 MB message", _with(id="big/1", text="ز" * (TWENTY_MB // 2)), "text_too_long", "big/1"),
        Case("over the message limit", _with(id="huge/1", text="x" * (limit + 64 * 1024)), "too_large"),
    ]
    for case in cases:
        assert b"\n" not in case.raw and b"\r" not in case.raw, case.name
    return cases


def duplicate_cases() -> list[Case]:
    """Re-sent ids, to follow ``good_cases()``: the same bytes again, and the same id with other text later.

    Exactly one message per id is accepted; which copy of a byte-identical pair it is does not matter.
    """
    quake = good_cases()[0]
    return [
        Case("the same message again", quake.raw, "duplicate_id", "quake/0"),
        Case(
            "the same id, another text, later",
            article("quake/1", FIRE[0], 30, "s9"),
            "duplicate_id",
            "quake/1",
        ),
    ]


def late_case() -> Case:
    """An article two days older than the rest, sent last: processed out of order, still assigned."""
    return Case("two days late", article("late/1", QUAKE[2], -2 * 24 * 60, "s4"), None, "late/1")


def corpus(kafka: KafkaSettings | None = None) -> list[Case]:
    """Good articles first, then bad ones, duplicates and a late article, in that order."""
    return [*good_cases(), *bad_cases(kafka), *duplicate_cases(), late_case()]
