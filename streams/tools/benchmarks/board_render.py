"""The story board's own load: N active stories served and rendered by a real headless Chromium.

Measures, in one run: the server's time to answer the page (median of a few requests), Chromium's time from
navigation to the load event for the page with every story on it, and a live refresh (fetching the cards
again and putting them in the page, what an alert triggers). Target: the page with 1,000 stories loads
in under 1 s.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import statistics
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from tqdm import tqdm

from streams.board.view import BoardView
from streams.board.web import create_board_app
from streams.core.emergence import EmergenceRule
from streams.records import Alert, Assignment, Score, ScoreComponents, StorySnapshot
from streams.settings import AlertSettings
from streams.tools.loopback import free_port

TARGET_PAGE_LOAD_MS = 1000.0
START = datetime.fromisoformat("2026-03-02T08:00:00+03:30")
# Made-up headline material (written for this benchmark; no real posts).
WORDS = (
    "زلزله",
    "انفجار",
    "آتش‌سوزی",
    "بارش",
    "برف",
    "جاده",
    "نرخ",
    "ارز",
    "بورس",
    "دربی",
    "مجلس",
    "بودجه",
    "کنکور",
    "سفر",
    "وزیر",
    "خارجه",
    "پرواز",
    "فرودگاه",
    "بیمارستان",
    "مدرسه",
    "تعطیلی",
    "اعتراض",
    "کارخانه",
    "قیمت",
    "بنزین",
    "سیل",
    "کرمان",
    "تهران",
    "مشهد",
    "اصفهان",
    "تبریز",
    "شیراز",
)
SOURCES = ("khabar_fori", "payam_agency", "iran_akhbar", "rooz_news", "sahar_daily", "tehran_news")


def synthetic_view(stories: int, seed: int) -> BoardView:
    """``stories`` active stories of 1-30 posts from 1-6 sources over a day, a tenth of them alerted."""
    generator = random.Random(seed)
    view = BoardView(EmergenceRule.from_settings(AlertSettings()))
    for number in range(stories):
        story_id = f"s-bench{number:06d}"
        size = generator.randint(1, 30)
        opened = START + timedelta(minutes=generator.randint(0, 24 * 60))
        moments = sorted(opened + timedelta(minutes=generator.randint(0, 600)) for _ in range(size))
        sources: dict[str, int] = {}
        for index, moment in enumerate(moments):
            source = generator.choice(SOURCES)
            sources[source] = sources.get(source, 0) + 1
            article_id = f"{source}/{number}-{index}"
            text = " ".join(generator.choices(WORDS, k=30))
            post = {"id": article_id, "source": source, "published_at": moment.isoformat(), "text": text}
            view.add_article(json.dumps(post, ensure_ascii=False).encode())
            record = Assignment(
                id=article_id, story_id=story_id, published_at=moment, similarity=0.8, new_story=index == 0
            )
            view.add_assignment(record.model_dump_json().encode())
        headline = " ".join(generator.choices(WORDS, k=14))
        snapshot = StorySnapshot(
            story_id=story_id,
            status="active",
            first_seen=moments[0],
            last_seen=moments[-1],
            article_count=size,
            sources=sources,
            headline=headline,
            keywords=generator.sample(WORDS, 6),
            article_ids=[],
        )
        view.add_story(snapshot.model_dump_json().encode())
        if number % 10 == 0 and size >= 3:
            view.add_alert(_alert(story_id, headline, moments, sources).model_dump_json().encode())
    return view


def _alert(story_id: str, headline: str, moments: list[datetime], sources: dict[str, int]) -> Alert:
    components = ScoreComponents(window_articles=3, window_sources=2, rate_per_hour=1.0, age_minutes=30.0)
    return Alert(
        alert_id=f"a-{story_id}",
        type="emerging",
        story_id=story_id,
        at=moments[2],
        headline=headline,
        keywords=[],
        article_ids=[],
        sources=sorted(sources),
        article_count=3,
        first_seen=moments[0],
        score=Score(value=1.0, components=components),
    )


@contextmanager
def serving(view: BoardView) -> Iterator[str]:
    """The board app on a free loopback port, in a thread of its own; its URL."""
    from aiohttp import web

    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_board_app(view), access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def chromium(binary: str | None, driver: str | None) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = binary or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = driver or shutil.which("chromedriver")
    if not binary or not driver:
        raise FileNotFoundError("chromium and chromedriver are needed: make chromium")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1366,900")
    return webdriver.Chrome(service=Service(driver), options=options)


def measure(
    stories: int = 1000,
    repeats: int = 5,
    seed: int = 4,
    binary: str | None = None,
    driver: str | None = None,
    progress: bool = True,
) -> dict[str, object]:
    view = synthetic_view(stories, seed)
    page = f"?limit={stories}"
    with serving(view) as url, tqdm(total=3 * repeats, desc="board", disable=not progress) as bar:
        server_ms = []
        for _ in range(repeats):
            started = time.perf_counter()
            with urllib.request.urlopen(url + page, timeout=60) as response:
                size = len(response.read())
            server_ms.append((time.perf_counter() - started) * 1000)
            bar.update(1)
        browser = chromium(binary, driver)
        try:
            load_ms, refresh_ms, cards = [], [], 0
            for _ in range(repeats):
                browser.get(url + page)
                timing = browser.execute_script(
                    "const [n] = performance.getEntriesByType('navigation'); return [n.loadEventEnd, "
                    "document.querySelectorAll('[data-story-id]').length];"
                )
                load_ms.append(float(timing[0]))
                cards = int(timing[1])
                bar.update(1)
            for _ in range(repeats):
                refresh_ms.append(
                    float(
                        browser.execute_async_script(
                            "const done = arguments[arguments.length - 1]; const t0 = performance.now();"
                            f"fetch('/fragments/stories{page}').then(r => r.text()).then(html => {{"
                            "document.getElementById('stories').innerHTML = html;"
                            "requestAnimationFrame(() => done(performance.now() - t0)); });"
                        )
                    )
                )
                bar.update(1)
        finally:
            browser.quit()
    page_load = statistics.median(load_ms)
    return {
        "board_stories": stories,
        "board_cards_rendered": cards,
        "board_page_bytes": size,
        "board_server_ms_p50": round(statistics.median(server_ms), 1),
        "board_page_load_ms_p50": round(page_load, 1),
        "board_page_load_ms_max": round(max(load_ms), 1),
        "board_refresh_ms_p50": round(statistics.median(refresh_ms), 1),
        "board_page_load_target_ms": TARGET_PAGE_LOAD_MS,
        "board_page_load_ok": page_load < TARGET_PAGE_LOAD_MS and cards == stories,
    }
