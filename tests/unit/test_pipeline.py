"""The Detector's two halves: preparation (bytes -> embedded article) and story detection (track)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.core.calibration import Calibration
from streams.core.detector import Detector
from streams.core.embedding import HashingEmbedder
from streams.core.messages import InputMessage
from streams.core.ordering import canonical_order_key
from streams.core.preparation import ArticlePreparer
from streams.core.story import story_id_for
from streams.records import EmbeddedArticle, Rejection
from streams.settings import AlertSettings, Settings, TrackerSettings, WorkerSettings

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
EMBEDDER = HashingEmbedder(256)

QUAKE = [
    "زلزله ۵.۸ ریشتری شهرستان راور در استان کرمان را لرزاند",
    "زلزله ۵.۸ ریشتری راور در استان کرمان را لرزاند؛ چند نفر مصدوم شدند",
    "زلزله شدید ۵.۸ ریشتری شهرستان راور کرمان را لرزاند",
    "پس لرزه زلزله ۵.۸ ریشتری راور در استان کرمان",
]
FIRE = "آتش‌سوزی گسترده در مرکز خرید نیلوفر خیابان جمهوری تهران؛ ایستگاه‌های آتش‌نشانی اعزام شدند"


def settings_with(**alerts: Any) -> Settings:
    # These tests exercise the pipeline's mechanics on the hashing embedder alone; the hybrid similarity
    # has its own tests (test_stories.py) and its figures (docs/EVALUATION.md).
    base = Settings(tracker=TrackerSettings(lexical_weight=0.0))
    return base.model_copy(update={"alerts": AlertSettings(**alerts)}) if alerts else base


@pytest.fixture(scope="module")
def preparer() -> ArticlePreparer:
    return ArticlePreparer(Settings(), EMBEDDER)


def embedded(
    preparer: ArticlePreparer,
    article_id: str,
    text: str,
    minutes: float = 0,
    source: str = "s1",
    **extra: Any,
) -> EmbeddedArticle:
    payload = {
        "id": article_id,
        "text": text,
        "source": source,
        "published_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        **extra,
    }
    [result] = preparer.prepare([InputMessage(json.dumps(payload).encode())])
    assert isinstance(result, EmbeddedArticle), result
    return result


def detector(settings: Settings | None = None) -> Detector:
    return Detector(
        settings or settings_with(), calibration=Calibration(EMBEDDER.default_threshold, centered=False)
    )


# ---------------------------------------------------------------------------------------------- preparer


def test_prepare_gives_one_result_per_message_in_order(
    preparer: ArticlePreparer, article_json: Callable[..., bytes]
) -> None:
    messages = [
        InputMessage(article_json(id="ok/1"), partition=2, offset=10),
        InputMessage(b"{not json", partition=2, offset=11),
        InputMessage(
            article_json(id="en/1", text="An English only post about the weather"), partition=3, offset=5
        ),
        InputMessage(article_json(id="ok/2", text=FIRE), partition=0, offset=0),
        InputMessage(article_json(id="emoji/1", text="🔴🔴 👇"), partition=1, offset=1),
    ]
    results = preparer.prepare(messages)
    assert [type(result).__name__ for result in results] == [
        "EmbeddedArticle",
        "Rejection",
        "Rejection",
        "EmbeddedArticle",
        "Rejection",
    ]
    for message, result in zip(messages, results, strict=True):
        assert (result.input_partition, result.input_offset) == (message.partition, message.offset)
    bad_json, english, emoji = results[1], results[2], results[4]
    assert isinstance(bad_json, Rejection) and isinstance(english, Rejection) and isinstance(emoji, Rejection)
    assert (bad_json.reason, bad_json.article_id, bad_json.at) == ("malformed_json", None, None)
    assert bad_json.raw == "{not json"
    # Refused after parsing: the rejection knows the article's id and time.
    assert (english.reason, english.article_id) == ("not_persian", "en/1")
    assert english.at == datetime.fromisoformat("2026-03-02T10:00:00+03:30")
    assert (emoji.reason, emoji.article_id) == ("empty_text", "emoji/1")


def test_an_embedded_article(preparer: ArticlePreparer) -> None:
    article = embedded(
        preparer, "khabar_fori/1", "🔴 فوری\n" + QUAKE[0] + "\n🆔 @khabar_fori", source="khabar_fori"
    )
    assert article.id == "khabar_fori/1"
    assert article.source == "khabar_fori"
    assert article.published_at == T0
    assert article.headline == "زلزله ۵ ٫ ۸ ریشتری شهرستان راور در استان کرمان را لرزاند"
    assert "زلزله" in article.tokens and "در" not in article.tokens
    assert article.embedder == EMBEDDER.name
    vector = article.vector()
    assert vector.shape == (EMBEDDER.dimension,)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-6)
    # The embedding is that of the normalized text, whatever the batch.
    np.testing.assert_array_equal(vector, EMBEDDER.embed(["فوری " + article.headline])[0])


def test_prepare_empty_batch(preparer: ArticlePreparer) -> None:
    assert preparer.prepare([]) == []
    assert preparer.embedder is EMBEDDER


def test_the_title_is_part_of_the_text(preparer: ArticlePreparer) -> None:
    article = embedded(preparer, "t/1", "متن کامل خبر", title="زلزله شدید در کرمان")
    assert article.headline == "زلزله شدید در کرمان"


# ---------------------------------------------------------------------------------------------- detector


def test_similar_articles_share_a_story(preparer: ArticlePreparer) -> None:
    tracker = detector()
    results = [
        tracker.track(embedded(preparer, f"q/{index}", text, index)) for index, text in enumerate(QUAKE)
    ]
    fire = tracker.track(embedded(preparer, "f/1", FIRE, 10))
    assignments = [result.assignment for result in results]
    assert all(assignment is not None for assignment in assignments)
    story_ids = {assignment.story_id for assignment in assignments if assignment}
    assert story_ids == {story_id_for("q/0")}
    assert [assignment.new_story for assignment in assignments if assignment] == [True, False, False, False]
    assert assignments[0] is not None and assignments[0].similarity == 0.0
    assert all(assignment.similarity > 0.3 for assignment in assignments[1:] if assignment)
    assert fire.assignment is not None and fire.assignment.new_story
    assert tracker.active_stories == 2
    # Each change emits the story's snapshot.
    [snapshot] = results[-1].snapshots
    assert snapshot.story_id == story_id_for("q/0")
    assert snapshot.status == "active"
    assert snapshot.article_count == len(QUAKE)
    assert snapshot.article_ids == [f"q/{index}" for index in range(len(QUAKE))]
    assert snapshot.sources == {"s1": len(QUAKE)}


def test_a_duplicate_id_is_rejected(preparer: ArticlePreparer) -> None:
    tracker = detector()
    first = tracker.track(embedded(preparer, "khabar_fori/73118", QUAKE[0], 0))
    assert first.assignment is not None
    again = embedded(preparer, "khabar_fori/73118", FIRE, 5)
    result = tracker.track(again.model_copy(update={"input_partition": 1, "input_offset": 209}))
    assert result.assignment is None
    assert result.snapshots == [] and result.alerts == []
    rejection = result.rejection
    assert rejection is not None
    assert rejection.reason == "duplicate_id"
    assert rejection.article_id == "khabar_fori/73118"
    assert first.assignment.story_id in rejection.message
    assert (rejection.input_partition, rejection.input_offset) == (1, 209)
    assert rejection.at == T0  # the detector's event time, not the duplicate's
    assert tracker.active_stories == 1
    # The story did not count the duplicate.
    later = tracker.track(embedded(preparer, "q/next", QUAKE[1], 6))
    assert later.snapshots[-1].article_count == 2


def test_alerts_fire_when_the_rule_is_met(preparer: ArticlePreparer) -> None:
    tracker = detector(settings_with(min_articles=3, min_sources=2, burst_window_minutes=60))
    sources = ["s1", "s1", "s2", "s3"]
    results = [
        tracker.track(embedded(preparer, f"q/{index}", text, index * 5, sources[index]))
        for index, text in enumerate(QUAKE)
    ]
    assert [len(result.alerts) for result in results] == [0, 0, 1, 0]
    alert = results[2].alerts[0]
    assert alert.story_id == story_id_for("q/0")
    assert alert.at == T0 + timedelta(minutes=10)
    assert alert.sources == ["s1", "s2"]


def test_a_single_source_never_alerts(preparer: ArticlePreparer) -> None:
    tracker = detector(settings_with(min_articles=2, min_sources=2))
    results = [tracker.track(embedded(preparer, f"q/{i}", text, i)) for i, text in enumerate(QUAKE)]
    assert all(result.alerts == [] for result in results)


def test_idle_stories_close_and_their_ids_are_forgotten(preparer: ArticlePreparer) -> None:
    settings = Settings().model_copy(update={"tracker": TrackerSettings(window_hours=1)})
    tracker = detector(settings)
    opened = tracker.track(embedded(preparer, "q/0", QUAKE[0], 0))
    assert opened.assignment is not None
    later = tracker.track(embedded(preparer, "f/0", FIRE, 61))
    closed = [snapshot for snapshot in later.snapshots if snapshot.status == "closed"]
    assert [snapshot.story_id for snapshot in closed] == [opened.assignment.story_id]
    assert later.snapshots[-1].status == "active"
    assert tracker.active_stories == 1
    # An id is only remembered while its story is open.
    reopened = tracker.track(embedded(preparer, "q/0", QUAKE[0], 62))
    assert reopened.rejection is None
    assert reopened.assignment is not None and reopened.assignment.new_story


def test_the_configured_threshold_overrides_the_embedder_default(preparer: ArticlePreparer) -> None:
    strict = Settings().model_copy(update={"tracker": TrackerSettings(similarity_threshold=0.999)})
    tracker = detector(strict)
    results = [tracker.track(embedded(preparer, f"q/{i}", text, i)) for i, text in enumerate(QUAKE)]
    assert all(result.assignment is not None and result.assignment.new_story for result in results)


def test_times_at_the_ends_of_the_calendar(
    preparer: ArticlePreparer, article_json: Callable[..., bytes]
) -> None:
    messages = [
        InputMessage(article_json(id="early", published_at="0001-01-01T00:00:00+00:00")),
        InputMessage(article_json(id="late", published_at="9999-12-31T23:59:59-12:00")),
    ]
    early, late = preparer.prepare(messages)
    # Year 1 is refused up front: the window arithmetic would overflow in the tracker.
    assert isinstance(early, Rejection) and early.reason == "invalid_timestamp"
    # Year 9999 is in the future of today's wall clock (future_timestamp); seen from a clock at the end of
    # the calendar (-12:00 is half a day past it) it is accepted, and the tracker must not overflow either.
    assert isinstance(late, Rejection) and late.reason == "future_timestamp"
    at_the_end = ArticlePreparer(
        Settings(worker=WorkerSettings(max_future_seconds=86400)),
        EMBEDDER,
        wall_clock=lambda: datetime.max.replace(tzinfo=UTC),
    )
    late = at_the_end.prepare(messages)[1]
    assert isinstance(late, EmbeddedArticle)
    result = detector().track(late)
    assert result.assignment is not None and result.assignment.new_story


def test_canonical_order_is_event_time_then_id(preparer: ArticlePreparer) -> None:
    articles = [
        embedded(preparer, "b", QUAKE[0], 5),
        embedded(preparer, "c", QUAKE[0], 1),
        embedded(preparer, "a", QUAKE[0], 5),
    ]
    assert [article.id for article in sorted(articles, key=canonical_order_key)] == ["c", "a", "b"]


# -------------------------------------------------------------------------------------------- property

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
_WORDS = st.sampled_from(
    ["زلزله", "کرمان", "🔴", "@x", "#خبر", "\n", "ـ", "VPN", "۱۲", "ي", "https://t.me/a"]
)
# Any year Python knows: the detector's window arithmetic must not overflow near its ends.
_EDGES = ["0001-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"]
_TIMES = st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | st.sampled_from(_EDGES)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a", "b", "c", ""]) | _VALUES,
                "text": st.lists(_WORDS, max_size=12).map(" ".join) | _VALUES,
                "published_at": _TIMES | _VALUES,
            },
            optional={"source": st.sampled_from(["s1", "s2"]) | _VALUES, "title": st.text(max_size=10)},
        ),
        max_size=8,
    )
)
def test_any_input_is_tracked_or_rejected(payloads: list[dict[str, Any]]) -> None:
    preparer = ArticlePreparer(Settings(), EMBEDDER)
    tracker = Detector(
        settings_with(min_articles=1, min_sources=1), calibration=Calibration(0.3, centered=False)
    )
    messages = [
        InputMessage(json.dumps(payload).encode(), offset=index) for index, payload in enumerate(payloads)
    ]
    prepared = preparer.prepare(messages)
    assert len(prepared) == len(messages)
    for item in sorted(
        (item for item in prepared if isinstance(item, EmbeddedArticle)), key=canonical_order_key
    ):
        result = tracker.track(item)
        assert (result.assignment is None) != (result.rejection is None)
        for record in [result.assignment, result.rejection, *result.snapshots, *result.alerts]:
            if record is not None:
                json.loads(record.to_json_bytes())


def test_a_message_refused_while_parsing_keeps_its_id(preparer: ArticlePreparer) -> None:
    # The dead letter must say which article it was, so that "every post is assigned or rejected" can be
    # checked by id, even when validation fails before an Article exists.
    empty, oversized = preparer.prepare(
        [
            InputMessage(json.dumps({"id": "empty/1", "text": "", "published_at": T0.isoformat()}).encode()),
            InputMessage(b'{"id": "big/1", "text": "' + b"x" * (26 * 1024 * 1024) + b'"}'),
        ]
    )
    assert isinstance(empty, Rejection) and (empty.reason, empty.article_id) == ("empty_text", "empty/1")
    # An oversized message is never parsed, not even for its id.
    assert isinstance(oversized, Rejection) and (oversized.reason, oversized.article_id) == (
        "too_large",
        None,
    )
