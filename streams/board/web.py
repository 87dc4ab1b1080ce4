"""The story board's web edge (aiohttp + Jinja2 templates, a little plain JS): pages, a JSON API and a
server-sent event stream that tells open pages to refresh. Everything it serves is local: no CDN."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel

from streams.board.persian_time import TEHRAN, persian_datetime, persian_digits
from streams.board.view import BoardError, BoardView, StoryFilter

HERE = Path(__file__).parent
# A page that is open gets at most this many refresh signals a second, however fast records arrive.
SIGNALS_PER_SECOND = 2.0
KEEPALIVE_SECONDS = 15.0


class ChangeSignal:
    """Wakes the event streams when the view changed (set from the reader thread via the loop)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.closing = False

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event


VIEW = web.AppKey("view", BoardView)
SIGNAL = web.AppKey("signal", ChangeSignal)
TEMPLATES = web.AppKey("templates", Environment)
ZONE = web.AppKey("zone", ZoneInfo)
StatusProbe = Callable[[], dict[str, object]]
STATUS: web.AppKey[StatusProbe] = web.AppKey("status")


def sparkline(counts: list[int], width: int = 120, height: int = 28) -> str:
    """Polyline points of an articles-per-hour sparkline (SVG user units, y grows downwards)."""
    if not counts:
        return ""
    top = max(*counts, 1)
    step = width / max(len(counts) - 1, 1)
    return " ".join(
        f"{index * step:.1f},{height - 2 - (count / top) * (height - 4):.1f}"
        for index, count in enumerate(counts)
    )


def templates(zone: ZoneInfo) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["fa"] = persian_digits
    environment.filters["when"] = lambda moment: persian_datetime(moment, zone) if moment else ""
    environment.filters["clock"] = lambda moment: persian_datetime(moment, zone, with_date=False)
    environment.filters["sparkline"] = sparkline
    environment.filters["local_input"] = lambda moment: (
        moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""
    )
    return environment


def create_board_app(
    view: BoardView,
    zone: ZoneInfo = TEHRAN,
    status: StatusProbe = dict,
) -> web.Application:
    app = web.Application(middlewares=[_bad_requests])
    app[VIEW] = view
    app[SIGNAL] = ChangeSignal()
    app[TEMPLATES] = templates(zone)
    app[ZONE] = zone
    app[STATUS] = status
    app.router.add_get("/", index)
    app.router.add_get("/fragments/stories", story_cards)
    app.router.add_get("/stories/{story_id}", story_page)
    app.router.add_get("/api/stories", api_stories)
    app.router.add_get("/api/stories/{story_id}", api_story)
    app.router.add_get("/api/alerts", api_alerts)
    app.router.add_get("/events", events)
    app.router.add_get("/healthz", health)
    app.router.add_static("/static/", HERE / "static", name="static")
    app.on_shutdown.append(_close_streams)
    return app


async def _close_streams(app: web.Application) -> None:
    app[SIGNAL].closing = True
    app[SIGNAL].notify()


@web.middleware
async def _bad_requests(request: web.Request, handler: Callable[[web.Request], object]) -> web.StreamResponse:
    """A bad filter is the person's to fix: a 400 that says how, as JSON for the API, a page otherwise."""
    try:
        response = await handler(request)  # type: ignore[misc]
    except BoardError as error:
        return _error(request, 400, str(error))
    assert isinstance(response, web.StreamResponse)
    return response


def _error(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        return web.json_response({"error": message, "status": status}, status=status)
    page = request.app[TEMPLATES].get_template("error.html").render(status=status, message=message)
    return web.Response(text=page, status=status, content_type="text/html")


def _filter(request: web.Request) -> StoryFilter:
    return StoryFilter.from_query(request.query, request.app[ZONE])


def _json(model: BaseModel) -> web.Response:
    return web.Response(text=model.model_dump_json(), content_type="application/json")


def _render(request: web.Request, name: str, **context: object) -> web.Response:
    page = request.app[TEMPLATES].get_template(name).render(**context)
    return web.Response(text=page, content_type="text/html")


async def index(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    wanted = _filter(request)
    return _render(
        request,
        "index.html",
        listing=view.stories(wanted),
        wanted=wanted,
        sources=view.sources(),
        version=view.version,
        alert_count=view.alert_count,
        status=request.app[STATUS](),
    )


async def story_cards(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    return _render(
        request,
        "cards.html",
        listing=view.stories(_filter(request)),
        alert_count=view.alert_count,
        status=request.app[STATUS](),
    )


async def story_page(request: web.Request) -> web.Response:
    story = request.app[VIEW].story(request.match_info["story_id"])
    if story is None:
        return _error(request, 404, f"no story {request.match_info['story_id']!r} on this board")
    return _render(request, "story.html", story=story)


async def api_stories(request: web.Request) -> web.Response:
    return _json(request.app[VIEW].stories(_filter(request)))


async def api_story(request: web.Request) -> web.Response:
    story = request.app[VIEW].story(request.match_info["story_id"])
    if story is None:
        return _error(request, 404, f"no story {request.match_info['story_id']!r} on this board")
    return _json(story)


async def api_alerts(request: web.Request) -> web.Response:
    return _json(request.app[VIEW].alerts(_filter(request)))


async def health(request: web.Request) -> web.Response:
    view = request.app[VIEW]
    return web.json_response({"version": view.version, "alerts": view.alert_count, **request.app[STATUS]()})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``update`` whenever the view changed, with the alerts that are new to this page.

    The page says how many alerts it has already shown (``alerts``; on a reconnect the browser's
    Last-Event-ID says it), so each new alert is announced once per page."""
    view, signal = request.app[VIEW], request.app[SIGNAL]
    try:
        shown = int(request.headers.get("Last-Event-ID") or request.query.get("alerts", "0"))
        version = int(request.query.get("version", "-1"))
    except ValueError:
        raise BoardError("'alerts' and 'version' must be whole numbers") from None
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    async for update in _updates(view, signal, shown, version):
        await response.write(update.encode("utf-8"))
    return response


async def _updates(view: BoardView, signal: ChangeSignal, shown: int, version: int) -> AsyncIterator[str]:
    while not signal.closing:
        changed = signal.current()
        if view.version != version:
            version = view.version
            fresh = view.alerts_after(shown)
            shown += len(fresh)
            data = {
                "version": version,
                "alerts": [
                    {"alert_id": a.alert_id, "story_id": a.story_id, "headline": a.headline} for a in fresh
                ],
            }
            yield f"id: {shown}\nevent: update\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
            await asyncio.sleep(1 / SIGNALS_PER_SECOND)  # a rate limit on refreshes, not a wait for state
            continue
        try:
            await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
        except TimeoutError:
            yield ": keepalive\n\n"
