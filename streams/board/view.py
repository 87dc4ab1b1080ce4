"""What the story board shows, rebuilt from the pipeline's topics: plain Python, no web and no Kafka here.

The board reads four topics: the input articles (each post's source, text and link), the assignments
(which story each post joined), the story snapshots and the alerts. ``BoardView`` folds their records in
as they come, in any order, and answers the board's questions: the stories ranked by emergence (the score
the alerts use, at the board's event time), one story with its posts, the alerts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, ValidationError

from streams.board.persian_time import TEHRAN
from streams.core.emergence import EmergenceRule
from streams.core.snapshots import final_story
from streams.records import SCHEMA_VERSION, Alert, Assignment, Score, StorySnapshot

EXCERPT_CHARS = 280
SPARKLINE_HOURS = 48
# Letters Persian text is typed with in more than one way (Arabic keyboards): a search matches either.
_FOLD = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "\u200c": " ", "أ": "ا", "إ": "ا", "ؤ": "و"})


class BoardError(ValueError):
    """A request the board cannot answer (a bad filter); the message says what to send instead."""


class Post(BaseModel):
    """One post of a story, as the story page lists it."""

    id: str
    published_at: datetime
    source: str | None = None
    url: str | None = None
    title: str | None = None
    excerpt: str = Field(description=f"The post's text, at most {EXCERPT_CHARS} characters")
    similarity: float | None = Field(default=None, description="Similarity to the story when it joined")
    new_story: bool = Field(default=False, description="The post opened the story")


class StoryCard(BaseModel):
    """A story as the board's list shows it."""

    story_id: str
    status: Literal["active", "closed"]
    headline: str
    keywords: list[str]
    sources: dict[str, int] = Field(description="Articles per source")
    article_count: int
    first_seen: datetime
    last_seen: datetime
    emergence: Score = Field(description="The alerts' emergence score at the list's reference time")
    alerted: bool
    last_alert_at: datetime | None = None
    hourly: list[int] = Field(
        description=f"Articles per hour over the story's life (its last {SPARKLINE_HOURS} hours)"
    )
    merged_from: list[str] = Field(
        default_factory=list,
        description="Stories merged into this one (the same event, told apart at first): their posts and "
        "alerts are this story's",
    )


class StoryList(BaseModel):
    """``GET /api/stories``: the stories that pass the filters, most emerging first."""

    schema_version: int = SCHEMA_VERSION
    at: datetime | None = Field(description="Reference event time: the filter's end, or the newest post")
    total: int = Field(description="Stories that pass the filters (the list may be cut at the limit)")
    stories: list[StoryCard]


class StoryDetail(StoryCard):
    """``GET /api/stories/{id}``: a story with its posts in order and its alerts."""

    schema_version: int = SCHEMA_VERSION
    posts: list[Post]
    alerts: list[Alert]


class AlertList(BaseModel):
    """``GET /api/alerts``: the alerts that pass the filters, newest first."""

    schema_version: int = SCHEMA_VERSION
    alerts: list[Alert]


@dataclass(frozen=True, slots=True)
class StoryFilter:
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    alerted_only: bool = False
    query: str | None = None
    include_closed: bool = False
    limit: int = 200

    @classmethod
    def from_query(cls, params: Mapping[str, str], zone: ZoneInfo = TEHRAN) -> StoryFilter:
        """From a request's query string; ``BoardError`` names the parameter that is wrong."""
        since = _time_param(params, "since", zone)
        until = _time_param(params, "until", zone)
        if since and until and since >= until:
            raise BoardError("the time range is empty: 'since' must be before 'until'")
        try:
            limit = int(params.get("limit", "200"))
        except ValueError:
            raise BoardError("'limit' must be a whole number") from None
        if not 1 <= limit <= 5000:
            raise BoardError("'limit' must be between 1 and 5000")
        return cls(
            source=params.get("source") or None,
            since=since,
            until=until,
            alerted_only=params.get("alerted", "") in {"1", "true", "on", "yes"},
            query=(params.get("q") or "").strip() or None,
            # A past range shows what was there then, closed or not; the live view shows what is active.
            include_closed=since is not None or until is not None or params.get("status") == "all",
            limit=limit,
        )


def _time_param(params: Mapping[str, str], name: str, zone: ZoneInfo) -> datetime | None:
    """ISO-8601; without an offset (a browser's date and time fields) it is the board's local time."""
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BoardError(f"'{name}' must be an ISO-8601 time, e.g. 2026-03-02T08:00 or 2026-03-02") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def fold(text: str) -> str:
    return " ".join(text.translate(_FOLD).casefold().split())


@dataclass(slots=True)
class _PostText:
    source: str | None
    url: str | None
    title: str | None
    excerpt: str


@dataclass(slots=True)
class _Membership:
    story_id: str
    published_at: datetime
    similarity: float
    new_story: bool


class BoardView:
    """The board's state. Thread-safe: a Kafka reader thread folds records in, web handlers read."""

    def __init__(self, rule: EmergenceRule) -> None:
        self.rule = rule
        self._lock = threading.Lock()
        self._stories: dict[str, StorySnapshot] = {}
        self._posts: dict[str, _PostText] = {}
        self._membership: dict[str, _Membership] = {}
        self._members: dict[str, set[str]] = {}
        self._alerts: list[Alert] = []
        self._alert_ids: set[str] = set()
        self._alerts_by_story: dict[str, list[Alert]] = {}
        # Story merges (a snapshot's ``merged_into``), both ways: records come in any order, so a story's
        # posts and alerts are gathered from its whole family when asked.
        self._merged_into: dict[str, str] = {}
        self._merged_from: dict[str, set[str]] = {}
        self._newest: datetime | None = None
        self._version = 0

    # --- folding records in -------------------------------------------------------------------------

    def add_article(self, raw: bytes) -> bool:
        """An input message; one the worker rejects may be unreadable here too: it is simply not shown."""
        try:
            record = json.loads(raw)
            article_id = record["id"]
            text = str(record.get("text") or "")
        except (ValueError, TypeError, KeyError):
            return False
        if not isinstance(article_id, str):
            return False
        post = _PostText(
            source=_text_or_none(record.get("source")),
            url=_text_or_none(record.get("url")),
            title=_text_or_none(record.get("title")),
            excerpt=text[:EXCERPT_CHARS],
        )
        with self._lock:
            self._posts[article_id] = post
            self._version += 1
        return True

    def add_assignment(self, raw: bytes) -> bool:
        try:
            assignment = Assignment.model_validate_json(raw)
        except ValidationError:
            return False
        with self._lock:
            previous = self._membership.get(assignment.id)
            if previous is not None:  # re-processed input: the latest decision holds
                self._members.get(previous.story_id, set()).discard(assignment.id)
            self._membership[assignment.id] = _Membership(
                assignment.story_id, assignment.published_at, assignment.similarity, assignment.new_story
            )
            self._members.setdefault(assignment.story_id, set()).add(assignment.id)
            if self._newest is None or assignment.published_at > self._newest:
                self._newest = assignment.published_at
            self._version += 1
        return True

    def add_story(self, raw: bytes) -> bool:
        try:
            snapshot = StorySnapshot.model_validate_json(raw)
        except ValidationError:
            return False
        with self._lock:
            self._stories[snapshot.story_id] = snapshot
            if snapshot.merged_into is not None:
                self._merged_into[snapshot.story_id] = snapshot.merged_into
                self._merged_from.setdefault(snapshot.merged_into, set()).add(snapshot.story_id)
            self._version += 1
        return True

    def add_alert(self, raw: bytes) -> Alert | None:
        """The alert when it is new (delivery is at-least-once: an alert id counts once)."""
        try:
            alert = Alert.model_validate_json(raw)
        except ValidationError:
            return None
        with self._lock:
            if alert.alert_id in self._alert_ids:
                return None
            self._alert_ids.add(alert.alert_id)
            self._alerts.append(alert)
            self._alerts_by_story.setdefault(alert.story_id, []).append(alert)
            self._version += 1
        return alert

    # --- answering ----------------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """Grows with every record folded in: the live page refreshes when it moves."""
        return self._version

    @property
    def alert_count(self) -> int:
        return len(self._alerts)

    def alerts_after(self, index: int) -> list[Alert]:
        with self._lock:
            return list(self._alerts[max(index, 0) :])

    def sources(self) -> list[str]:
        with self._lock:
            return sorted({source for story in self._stories.values() for source in story.sources})

    def stories(self, wanted: StoryFilter) -> StoryList:
        with self._lock:
            at = wanted.until if wanted.until is not None else self._newest
            if wanted.until is not None and self._newest is not None:
                at = min(wanted.until, self._newest)
            cards = [
                self._card(snapshot, at)
                for snapshot in self._stories.values()
                if self._passes(snapshot, wanted)
            ]
        cards.sort(key=lambda card: (-card.emergence.value, -card.last_seen.timestamp(), card.story_id))
        return StoryList(at=at, total=len(cards), stories=cards[: wanted.limit])

    def story(self, story_id: str) -> StoryDetail | None:
        """The story, or the one it merged into (its posts are there now)."""
        with self._lock:
            story_id = final_story(story_id, self._merged_into)
            snapshot = self._stories.get(story_id)
            if snapshot is None:
                return None
            card = self._card(snapshot, self._newest)
            posts = [self._post(article_id) for article_id in self._member_ids(story_id)]
            alerts = self._story_alerts(story_id)
        posts.sort(key=lambda post: (post.published_at, post.id))
        alerts.sort(key=lambda alert: (alert.at, alert.alert_id))
        return StoryDetail(**card.model_dump(), posts=posts, alerts=alerts)

    def alerts(self, wanted: StoryFilter) -> AlertList:
        with self._lock:
            chosen = [
                alert
                for alert in self._alerts
                if (wanted.since is None or alert.at >= wanted.since)
                and (wanted.until is None or alert.at < wanted.until)
                and (wanted.source is None or wanted.source in alert.sources)
                and (wanted.query is None or fold(wanted.query) in fold(alert.headline))
            ]
        chosen.sort(key=lambda alert: (alert.at, alert.alert_id), reverse=True)
        return AlertList(alerts=chosen[: wanted.limit])

    # --- helpers (called with the lock held) ---------------------------------------------------------

    def _family(self, story_id: str) -> list[str]:
        """The story and every story merged into it, directly or through another merge."""
        family = [story_id]
        for member in family:  # grows while iterated: a breadth-first walk
            family.extend(sorted(self._merged_from.get(member, set()) - set(family)))
        return family

    def _member_ids(self, story_id: str) -> set[str]:
        return {article for member in self._family(story_id) for article in self._members.get(member, ())}

    def _story_alerts(self, story_id: str) -> list[Alert]:
        return [alert for member in self._family(story_id) for alert in self._alerts_by_story.get(member, [])]

    def _passes(self, snapshot: StorySnapshot, wanted: StoryFilter) -> bool:
        if snapshot.merged_into is not None:
            return False  # shown as the story it merged into
        if snapshot.status != "active" and not wanted.include_closed:
            return False
        if wanted.source is not None and wanted.source not in snapshot.sources:
            return False
        if wanted.since is not None and snapshot.last_seen < wanted.since:
            return False
        if wanted.until is not None and snapshot.first_seen >= wanted.until:
            return False
        if wanted.alerted_only and not self._story_alerts(snapshot.story_id):
            return False
        return wanted.query is None or fold(wanted.query) in fold(
            snapshot.headline + " " + " ".join(snapshot.keywords)
        )

    def _timeline(self, story_id: str) -> list[tuple[datetime, str]]:
        timeline = []
        for article_id in self._member_ids(story_id):
            post = self._posts.get(article_id)
            source = post.source if post is not None and post.source else ""
            timeline.append((self._membership[article_id].published_at, source))
        timeline.sort()
        return timeline

    def _card(self, snapshot: StorySnapshot, at: datetime | None) -> StoryCard:
        timeline = self._timeline(snapshot.story_id)
        alerts = self._story_alerts(snapshot.story_id)
        now = at if at is not None else snapshot.last_seen
        return StoryCard(
            story_id=snapshot.story_id,
            status=snapshot.status,
            headline=snapshot.headline,
            keywords=snapshot.keywords,
            sources=snapshot.sources,
            article_count=snapshot.article_count,
            first_seen=snapshot.first_seen,
            last_seen=snapshot.last_seen,
            emergence=self.rule.score_timeline(timeline, snapshot.first_seen, now),
            alerted=bool(alerts),
            last_alert_at=max((alert.at for alert in alerts), default=None),
            hourly=hourly_counts((moment for moment, _ in timeline), snapshot.first_seen, snapshot.last_seen),
            merged_from=self._family(snapshot.story_id)[1:],
        )

    def _post(self, article_id: str) -> Post:
        member = self._membership[article_id]
        text = self._posts.get(article_id)
        return Post(
            id=article_id,
            published_at=member.published_at,
            source=text.source if text else None,
            url=text.url if text else None,
            title=text.title if text else None,
            excerpt=text.excerpt if text else "",
            similarity=member.similarity,
            new_story=member.new_story,
        )


def hourly_counts(moments: Iterable[datetime], first_seen: datetime, last_seen: datetime) -> list[int]:
    """Articles per hour from the story's first hour to its last (its latest ``SPARKLINE_HOURS``)."""
    start = max(first_seen, last_seen - timedelta(hours=SPARKLINE_HOURS - 1))
    hours = int((last_seen - start).total_seconds() // 3600) + 1
    counts = [0] * hours
    for moment in moments:
        if moment >= start:
            counts[min(int((moment - start).total_seconds() // 3600), hours - 1)] += 1
    return counts


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
