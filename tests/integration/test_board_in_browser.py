"""The story board end to end: the real broker, the worker and the board, the sample replayed, and a real
headless Chromium reading the page as an analyst would (Debian's ``chromium`` and ``chromedriver``:
``make chromium`` installs them; under CI=true a missing browser fails the test instead of skipping it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import ROOT, Broker, Worker, free_port, streams_cli, wait_until

from streams.core.embedding import HashingEmbedder
from streams.files import read_messages
from streams.offline import OfflineResult, run_offline
from streams.records import StorySnapshot, peek
from streams.settings import EmbedderSettings, Settings

pytestmark = pytest.mark.integration

SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"
# Where the README's screenshot comes from: STREAMS_BOARD_SCREENSHOT=docs/images/board.png pytest ...
SCREENSHOT_ENV = "STREAMS_BOARD_SCREENSHOT"
# The hashing embedder: the board does not care how posts were embedded, and the run stays fast.
SETTINGS = Settings(embedder=EmbedderSettings(backend="hashing"))


def browser_paths() -> tuple[str, str]:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not chromium or not driver:
        message = (
            "chromium and chromedriver are needed: make chromium (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1366,900")
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def start_board(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """Start ``python -m streams board`` on a free port; its URL once it answers."""
    processes: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        log = (tmp_path / f"board-{len(processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "streams", "board", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}/"

        def answers() -> bool:
            assert process.poll() is None, f"the board exited with {process.returncode}"
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_until(answers, timeout=60, what="the board to answer")
        return url

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def split_sample(tmp_path: Path, before: datetime) -> tuple[Path, Path]:
    """The sample in two files: what was published before ``before`` (and every unreadable line), the rest."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    with first.open("wb") as early, second.open("wb") as late:
        for line in SAMPLE.read_bytes().splitlines(keepends=True):
            _, published = peek(line.strip())
            if published is None:  # unreadable: the worker rejects it, early is as good as late
                early.write(line)
                continue
            (early if published < before else late).write(line)
    return first, second


def offline(path: Path) -> OfflineResult:
    return run_offline(read_messages(path), SETTINGS, HashingEmbedder(), progress=False)


def test_an_analyst_watches_the_sample_break_in_chromium(
    pipeline_env: dict[str, str],
    start_worker: Callable[[dict[str, str]], Worker],
    start_board: Callable[[dict[str, str]], str],
    browser: Any,
    tmp_path: Path,
) -> None:
    from selenium.webdriver.common.by import By

    whole = offline(SAMPLE)
    last_alert = max(alert.at for alert in whole.alerts)
    first_part, second_part = split_sample(tmp_path, last_alert)
    early = offline(first_part)
    late_alerts = [alert for alert in whole.alerts if alert.at >= last_alert]
    assert early.alerts and late_alerts

    env = {**pipeline_env, "STREAMS_EMBEDDER__BACKEND": "hashing"}
    streams_cli(env, "topics", check=True)
    start_worker(env)
    url = start_board(env)
    # Closed stories too: the sample spans two days, and a story closes after 24 h without news.
    browser.get(url + "?status=all")
    browser.execute_script("window.boardMarker = 42")  # survives only if the page is never reloaded
    replayed_at = datetime.now().astimezone()
    streams_cli(env, "replay", str(first_part), "--max-rate", "--no-progress", check=True)

    def cards() -> dict[str, dict[str, str]]:
        """Every card's classes and headline, read in one script run (the list is re-rendered live)."""
        return dict(
            browser.execute_script(
                "const cards = {}; for (const card of document.querySelectorAll('[data-story-id]')) "
                "cards[card.dataset.storyId] = {classes: card.className, headline: "
                "card.querySelector('h2').innerText}; return cards;"
            )
        )

    def shows(story_ids: set[str], css_class: str = "alerted") -> bool:
        shown = cards()
        return all(css_class in shown.get(story_id, {}).get("classes", "").split() for story_id in story_ids)

    alerted_early = {alert.story_id for alert in early.alerts}

    def converged() -> bool:
        """Every alert story of the first part shown as alerted, under the headline the offline run gives."""
        shown = cards()  # one reading of the page: the list is re-rendered live between readings
        return all(
            "alerted" in shown.get(story_id, {}).get("classes", "").split()
            and shown[story_id]["headline"] == early.snapshots[story_id].headline.strip()
            for story_id in alerted_early
        )

    wait_until(converged, timeout=60, what="the sample's alert stories on the board, with their headlines")
    assert datetime.now().astimezone() - replayed_at < timedelta(seconds=60)
    for story_id in alerted_early:
        assert any("\u0600" <= letter <= "\u06ff" for letter in cards()[story_id]["headline"])  # Persian

    # The rest of the sample: the last alert comes in while the page stays open.
    streams_cli(env, "replay", str(second_part), "--max-rate", "--no-progress", check=True)
    late_ids = {alert.story_id for alert in late_alerts}
    wait_until(
        lambda: shows(late_ids, "new-alert"), timeout=60, what="the new alert highlighted without reload"
    )
    assert browser.execute_script("return window.boardMarker") == 42
    banner = browser.find_element(By.ID, "alert-banner")
    assert banner.is_displayed() and late_alerts[0].headline.split()[0] in banner.text
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl"
    assert browser.execute_script("return getComputedStyle(document.body).direction") == "rtl"

    shot = tmp_path / "board.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(shot, ROOT / os.environ[SCREENSHOT_ENV])

    # A story page lists its posts, each with its source, time and link.
    story_id = late_alerts[0].story_id
    browser.execute_script(f"document.querySelector('[data-story-id=\"{story_id}\"] h2 a').click()")
    wait_until(
        lambda: bool(browser.find_elements(By.CSS_SELECTOR, "li.post")), timeout=30, what="the story page"
    )
    posts = browser.find_elements(By.CSS_SELECTOR, "li.post")
    members = [article_id for article_id, owner in whole.assignments if owner == story_id]
    assert sorted(post.get_attribute("data-article-id") for post in posts) == sorted(members)
    for post in posts:
        assert post.find_element(By.CSS_SELECTOR, ".source").text
        assert post.find_element(By.TAG_NAME, "time").get_attribute("datetime")
        assert post.find_element(By.LINK_TEXT, "پیوند").get_attribute("href").startswith("https://t.me/")
    assert browser.find_elements(By.CSS_SELECTOR, "tr.alert-row")
    assert browser.execute_script("return getComputedStyle(document.body).direction") == "rtl"

    # A phone's width: one column, nothing wider than the screen.
    browser.set_window_size(390, 844)
    browser.get(url)
    width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, width


def test_the_board_survives_a_broker_restart_and_catches_up(
    own_broker: Broker, start_board: Callable[[dict[str, str]], str], tmp_path: Path
) -> None:
    from harness import pipeline_environment
    from kafka import KafkaProducer

    env = pipeline_environment(own_broker.bootstrap, tmp_path / "unused")
    prefix = env["STREAMS_KAFKA__TOPIC_PREFIX"]
    streams_cli(env, "topics", check=True)
    url = start_board(env)
    at = datetime.fromisoformat("2026-03-02T08:00:00+03:30")

    def publish(story_id: str) -> None:
        record = StorySnapshot(
            story_id=story_id,
            status="active",
            first_seen=at,
            last_seen=at,
            article_count=1,
            sources={"khabar_fori": 1},
            headline=f"خبر {story_id}",
            keywords=[],
            article_ids=[],
        )
        producer = KafkaProducer(bootstrap_servers=[own_broker.bootstrap], acks="all")
        producer.send(
            f"{prefix}.stories", key=story_id.encode(), value=record.model_dump_json().encode()
        ).get(30)
        producer.close()

    def listed() -> set[str]:
        return {card["story_id"] for card in api(url + "api/stories")["stories"]}

    publish("s-before")
    wait_until(lambda: listed() == {"s-before"}, timeout=60, what="the first story on the board")
    own_broker.stop()
    assert api(url + "api/stories")["total"] == 1  # still serving what it had
    own_broker.start(keep=True)
    publish("s-after")
    wait_until(lambda: listed() == {"s-before", "s-after"}, timeout=90, what="the board to catch up")
    assert api(url + "healthz")["connected"] is True
