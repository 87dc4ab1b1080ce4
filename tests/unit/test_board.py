"""The story board: its view of the topics (plain Python) and its web edge (aiohttp, in-process)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer
from support.environment import REPO

from streams.board.persian_time import persian_datetime, persian_digits, to_jalali
from streams.board.view import BoardError, BoardView, StoryFilter, hourly_counts
from streams.board.web import SIGNAL, create_board_app, sparkline
from streams.core.emergence import EmergenceRule
from streams.offline import OfflineResult
from streams.records import Alert, Assignment, Score, ScoreComponents, StorySnapshot
from streams.settings import AlertSettings

SCHEMA_DIR = REPO / "schemas"
T0 = datetime.fromisoformat("2026-03-02T08:00:00+03:30")
RULE = EmergenceRule.from_settings(AlertSettings())


def snapshot(story_id: str, headline: str, first: datetime, last: datetime, **extra: Any) -> bytes:
    fields: dict[str, Any] = {
        "story_id": story_id,
        "status": "active",
        "first_seen": first,
        "last_seen": last,
        "article_count": 1,
        "sources": {"a": 1},
        "headline": headline,
        "keywords": [],
        "article_ids": [],
        **extra,
    }
    return StorySnapshot(**fields).model_dump_json().encode()


def assignment(article_id: str, story_id: str, at: datetime, new: bool = False) -> bytes:
    return (
        Assignment(id=article_id, story_id=story_id, published_at=at, similarity=0.9, new_story=new)
        .model_dump_json()
        .encode()
    )


def article(article_id: str, source: str, at: datetime, text: str = "متن خبر") -> bytes:
    record = {"id": article_id, "source": source, "published_at": at.isoformat(), "text": text}
    return json.dumps(record, ensure_ascii=False).encode()


def alert(story_id: str, at: datetime, headline: str = "خبر فوری", alert_id: str = "a-1") -> bytes:
    score = Score(
        value=1.0,
        components=ScoreComponents(window_articles=3, window_sources=2, rate_per_hour=1.0, age_minutes=30),
    )
    return (
        Alert(
            alert_id=alert_id,
            type="emerging",
            story_id=story_id,
            at=at,
            headline=headline,
            keywords=[],
            article_ids=[],
            sources=["a", "b"],
            article_count=3,
            first_seen=at - timedelta(minutes=30),
            score=score,
        )
        .model_dump_json()
        .encode()
    )


def burst_and_quiet() -> BoardView:
    """Story 'burst': four posts from three sources in the last hour. 'quiet': two posts a day ago."""
    view = BoardView(RULE)
    now = T0 + timedelta(days=1)
    for index, source in enumerate(["a", "b", "c", "a"]):
        at = now - timedelta(minutes=10 * index)
        view.add_article(article(f"burst/{index}", source, at, text=f"زلزله در کرمان {index}"))
        view.add_assignment(assignment(f"burst/{index}", "burst", at, new=index == 3))
    for index in range(2):
        at = T0 + timedelta(minutes=index)
        view.add_article(article(f"quiet/{index}", "d", at))
        view.add_assignment(assignment(f"quiet/{index}", "quiet", at, new=index == 0))
    view.add_story(
        snapshot(
            "burst",
            "زلزلهٔ کرمان",
            now - timedelta(minutes=30),
            now,
            article_count=4,
            sources={"a": 2, "b": 1, "c": 1},
        )
    )
    view.add_story(
        snapshot("quiet", "بودجهٔ سال ۱۴۰۵", T0, T0 + timedelta(minutes=1), article_count=2, sources={"d": 2})
    )
    return view


# --- the view ---------------------------------------------------------------------------------------


def test_stories_are_ranked_by_the_alerts_emergence_score_at_the_newest_post() -> None:
    listing = burst_and_quiet().stories(StoryFilter())
    assert [card.story_id for card in listing.stories] == ["burst", "quiet"]
    burst = listing.stories[0]
    assert burst.emergence.components.window_articles == 4
    assert burst.emergence.components.window_sources == 3
    assert listing.stories[1].emergence.value == 0.0
    assert listing.at == T0 + timedelta(days=1)


def test_a_past_range_ranks_by_the_score_at_its_end_and_includes_closed_stories() -> None:
    view = burst_and_quiet()
    view.add_story(
        snapshot("quiet", "بودجهٔ سال ۱۴۰۵", T0, T0 + timedelta(minutes=1), status="closed", article_count=2)
    )
    assert [card.story_id for card in view.stories(StoryFilter()).stories] == ["burst"]
    past = view.stories(StoryFilter(until=T0 + timedelta(hours=1), include_closed=True))
    assert [card.story_id for card in past.stories] == ["quiet"]
    assert past.stories[0].emergence.components.window_articles == 2


def test_filters_by_source_alert_state_and_headline_search_with_arabic_letters() -> None:
    view = burst_and_quiet()
    view.add_alert(alert("burst", T0 + timedelta(days=1)))
    assert [card.story_id for card in view.stories(StoryFilter(source="d")).stories] == ["quiet"]
    assert [card.story_id for card in view.stories(StoryFilter(alerted_only=True)).stories] == ["burst"]
    # Typed on an Arabic keyboard (Arabic yeh and kaf): still finds the Persian headline.
    assert [card.story_id for card in view.stories(StoryFilter(query="بودجهٔ سال")).stories] == ["quiet"]
    assert [card.story_id for card in view.stories(StoryFilter(query="كرمان")).stories] == ["burst"]
    assert view.stories(StoryFilter(query="هیچ")).total == 0


def test_a_story_lists_its_posts_in_time_order_with_source_and_link() -> None:
    view = burst_and_quiet()
    story = view.story("burst")
    assert story is not None
    assert [post.id for post in story.posts] == ["burst/3", "burst/2", "burst/1", "burst/0"]
    assert [post.source for post in story.posts] == ["a", "c", "b", "a"]
    assert story.posts[0].new_story and not story.posts[1].new_story
    assert view.story("missing") is None


def test_a_reassigned_post_moves_and_an_alert_counts_once() -> None:
    view = burst_and_quiet()
    view.add_assignment(assignment("quiet/1", "burst", T0 + timedelta(minutes=1)))
    quiet, burst = view.story("quiet"), view.story("burst")
    assert quiet is not None and burst is not None
    assert [post.id for post in quiet.posts] == ["quiet/0"]
    assert "quiet/1" in [post.id for post in burst.posts]
    first = view.add_alert(alert("burst", T0))
    assert first is not None and view.add_alert(alert("burst", T0)) is None
    assert view.alert_count == 1 and view.alerts_after(0) == [first] and view.alerts_after(1) == []


def test_unreadable_records_are_not_shown_and_do_not_break_the_view() -> None:
    view = burst_and_quiet()
    before = view.stories(StoryFilter())
    assert not view.add_article(b"{not json")
    assert not view.add_article(b'{"id": 5}')
    assert not view.add_assignment(b'{"id": "x"}')
    assert not view.add_story(b"[]")
    assert view.add_alert(b"null") is None
    assert view.stories(StoryFilter()) == before


def test_bad_filters_say_what_to_send() -> None:
    with pytest.raises(BoardError, match="'since' must be an ISO-8601 time"):
        StoryFilter.from_query({"since": "yesterday"})
    with pytest.raises(BoardError, match="empty"):
        StoryFilter.from_query({"since": "2026-03-02T10:00", "until": "2026-03-02T09:00"})
    with pytest.raises(BoardError, match="limit"):
        StoryFilter.from_query({"limit": "0"})
    wanted = StoryFilter.from_query({"since": "2026-03-02T10:00", "alerted": "1", "q": "  زلزله "})
    # A time without an offset (a browser's date-time field) is the board's local time: Tehran.
    assert wanted.since == datetime.fromisoformat("2026-03-02T10:00:00+03:30")
    assert wanted.alerted_only and wanted.query == "زلزله" and wanted.include_closed


def test_hourly_counts_cover_the_storys_life() -> None:
    moments = [T0, T0 + timedelta(minutes=5), T0 + timedelta(hours=2, minutes=1)]
    assert hourly_counts(moments, T0, T0 + timedelta(hours=2, minutes=1)) == [2, 0, 1]
    long_life = hourly_counts([T0], T0, T0 + timedelta(days=5))
    assert len(long_life) == 48 and sum(long_life) == 0


def test_the_sample_run_as_the_board_shows_it(sample_run: OfflineResult, sample_lines: list[Any]) -> None:
    """Fold an offline run of the sample in as the topics deliver it: every alert's story is on the board,
    with its alert, and its page lists every post the run assigned to it."""
    view = BoardView(RULE)
    published = {line.payload["id"]: line.published_at for line in sample_lines if line.is_valid}
    for line in sample_lines:
        view.add_article(line.raw)
    for article_id, story_id in sample_run.assignments:
        view.add_assignment(assignment(article_id, story_id, published[article_id]))
    for snapshot_record in sample_run.snapshots.values():
        view.add_story(snapshot_record.model_dump_json().encode())
    for record in sample_run.alerts:
        view.add_alert(record.model_dump_json().encode())
    alerted = {record.story_id for record in sample_run.alerts}
    cards = {
        card.story_id: card for card in view.stories(StoryFilter(include_closed=True, limit=5000)).stories
    }
    assert alerted and alerted <= {story_id for story_id, card in cards.items() if card.alerted}
    for story_id in alerted:
        story = view.story(story_id)
        assert story is not None
        expected = [article_id for article_id, owner in sample_run.assignments if owner == story_id]
        assert sorted(post.id for post in story.posts) == sorted(expected)
        assert all(post.source for post in story.posts)
        assert story.headline == sample_run.snapshots[story_id].headline


# --- Persian times and numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "jalali"),
    [
        (date(2026, 3, 21), (1405, 1, 1)),  # Nowruz 1405
        (date(2026, 3, 20), (1404, 12, 29)),
        (date(2025, 3, 20), (1403, 12, 30)),  # 1403 is a leap year
        (date(2024, 3, 20), (1403, 1, 1)),
        (date(2026, 9, 22), (1405, 6, 31)),  # the first six months have 31 days
        (date(2026, 9, 23), (1405, 7, 1)),
        (date(2026, 12, 1), (1405, 9, 10)),
        (date(1979, 2, 11), (1357, 11, 22)),
    ],
)
def test_jalali_dates(day: date, jalali: tuple[int, int, int]) -> None:
    assert to_jalali(day) == jalali


def test_every_day_of_a_century_follows_the_previous_one() -> None:
    day = date(1990, 1, 1)
    previous = to_jalali(day)
    while day < date(2090, 1, 1):
        day += timedelta(days=1)
        current = to_jalali(day)
        year, month, number = previous
        expected_next = {(year, month, number + 1), (year, month + 1, 1), (year + 1, 1, 1)}
        assert current in expected_next, (day, previous, current)
        assert current[2] <= (31 if current[1] <= 6 else 30)
        previous = current


def test_persian_numbers_and_times() -> None:
    assert persian_digits("12.50 خبر") == "۱۲٫۵۰ خبر"
    assert persian_datetime(datetime.fromisoformat("2026-03-02T04:35:00+00:00")) == "۱۱ اسفند ۱۴۰۴، ۰۸:۰۵"


def test_sparkline_scales_to_the_box() -> None:
    assert sparkline([0, 2], width=10, height=10) == "0.0,8.0 10.0,2.0"
    assert sparkline([]) == ""


# --- the web edge ------------------------------------------------------------------------------------


def run_with_client(view: BoardView, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(create_board_app(view))) as client:
            await body(client)

    asyncio.run(main())


def test_the_page_is_right_to_left_persian_with_one_card_per_story() -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get("/")
        assert response.status == 200
        page = await response.text()
        assert '<html lang="fa" dir="rtl">' in page
        assert page.count("data-story-id=") == 2
        assert page.index('data-story-id="burst"') < page.index('data-story-id="quiet"')
        assert "زلزلهٔ کرمان" in page and "۴ خبر" in page
        assert "http://" not in page and "https://" not in page  # nothing from a CDN
        css = await client.get("/static/board.css")
        assert css.status == 200 and "Noto Naskh Arabic" in await css.text()
        story = await client.get("/stories/burst")
        assert (await story.text()).count('class="post"') == 4

    run_with_client(burst_and_quiet(), body)


def test_the_api_answers_in_its_documented_schemas() -> None:
    schemas = {
        name: json.loads((SCHEMA_DIR / f"board-{name}.v1.json").read_text())
        for name in ("stories", "story", "alerts")
    }

    async def body(client: TestClient[Any, Any]) -> None:
        listing = await (await client.get("/api/stories?alerted=1")).json()
        jsonschema.validate(listing, schemas["stories"])
        assert [card["story_id"] for card in listing["stories"]] == ["burst"]
        story = await (await client.get("/api/stories/burst")).json()
        jsonschema.validate(story, schemas["story"])
        assert len(story["posts"]) == 4 and story["alerts"][0]["alert_id"] == "a-1"
        alerts = await (await client.get("/api/alerts")).json()
        jsonschema.validate(alerts, schemas["alerts"])
        assert [record["story_id"] for record in alerts["alerts"]] == ["burst"]

    view = burst_and_quiet()
    view.add_alert(alert("burst", T0 + timedelta(days=1)))
    run_with_client(view, body)


def test_bad_requests_get_a_clear_4xx_never_a_traceback() -> None:
    async def body(client: TestClient[Any, Any]) -> None:
        missing = await client.get("/api/stories/s-nope")
        assert missing.status == 404 and "s-nope" in (await missing.json())["error"]
        page = await client.get("/stories/s-nope")
        assert page.status == 404 and 'dir="rtl"' in await page.text()
        for query in ("since=yesterday", "since=2026-03-02T10:00&until=2026-03-02T09:00", "limit=x"):
            response = await client.get(f"/api/stories?{query}")
            assert response.status == 400, query
            message = (await response.json())["error"]
            assert message and "Traceback" not in message
        html = await client.get("/?until=soon")
        assert html.status == 400 and "must be an ISO-8601 time" in await html.text()
        assert (await client.get("/events?alerts=many")).status == 400

    run_with_client(burst_and_quiet(), body)


def test_the_event_stream_announces_each_new_alert_once() -> None:
    view = burst_and_quiet()

    async def body(client: TestClient[Any, Any]) -> None:
        response = await client.get(f"/events?alerts=0&version={view.version}")
        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        view.add_alert(alert("burst", T0 + timedelta(days=1), alert_id="a-7"))
        app = client.app
        assert app is not None
        app[SIGNAL].notify()
        update = await asyncio.wait_for(read_event(response.content), timeout=10)
        assert update["id"] == "1" and update["event"] == "update"
        assert [record["alert_id"] for record in json.loads(update["data"])["alerts"]] == ["a-7"]
        # The view changes again (a story, no alert): the next update announces no alert, a re-sent one none.
        view.add_alert(alert("burst", T0 + timedelta(days=1), alert_id="a-7"))
        view.add_story(snapshot("later", "خبر دیگر", T0, T0))
        app[SIGNAL].notify()
        again = await asyncio.wait_for(read_event(response.content), timeout=10)
        assert again["id"] == "1" and json.loads(again["data"])["alerts"] == []
        response.close()

    run_with_client(view, body)


async def read_event(stream: Any) -> dict[str, str]:
    """The next server-sent event (comment lines skipped)."""
    event: dict[str, str] = {}
    async for raw in stream:
        line = raw.decode().rstrip("\n")
        if not line:
            if event:
                return event
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(": ")
        event[name] = value
    return event
