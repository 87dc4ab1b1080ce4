"""The alert rule on the gold stories themselves (``evaluate --alerts-on-gold``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.settings import AlertSettings
from streams.tools.evaluation.gold_alerts import alerts_on_gold, rule_of
from streams.tools.evaluation.metrics import GoldLabel, emergence

T0 = datetime(2026, 5, 25, 6, 0, tzinfo=UTC)


def post(story: str, source: str, minute: float, kind: str = "news") -> GoldLabel:
    return GoldLabel(story=story, kind=kind, source=source, published_at=T0 + timedelta(minutes=minute))


LABELS = {
    # A fast story: 4 posts, 2 sources within half an hour.
    "a1": post("A", "s1", 0),
    "a2": post("A", "s1", 10),
    "a3": post("A", "s2", 20),
    "a4": post("A", "s3", 30),
    # A slow one: 4 posts from 2 sources over 10 hours.
    "b1": post("B", "s1", 0),
    "b2": post("B", "s2", 200),
    "b3": post("B", "s1", 400),
    "b4": post("B", "s2", 600),
    # Noise, each post its own story.
    "n1": post("N1", "s1", 5, kind="noise"),
    "n2": post("N2", "s2", 6, kind="noise"),
}


def test_a_three_hour_burst_misses_the_slow_story() -> None:
    alerts = alerts_on_gold(
        LABELS, rule_of(AlertSettings(burst_window_minutes=180, sustained_window_hours=0))
    )
    # One alert, on A's third post (the first time 3 posts from 2 sources fall in the window).
    assert [(alert.at, alert.article_ids) for alert in alerts] == [
        (T0 + timedelta(minutes=20), ("a1", "a2", "a3"))
    ]
    scores = emergence(LABELS, alerts)
    assert (scores.recall, scores.precision, scores.median_posts_before_alert) == (0.5, 1.0, 3)


def test_a_day_long_window_alerts_on_both_by_their_third_post() -> None:
    alerts = alerts_on_gold(LABELS, rule_of(AlertSettings(burst_window_minutes=24 * 60)))
    assert [alert.article_ids[-1] for alert in alerts] == ["a3", "b3"]
    scores = emergence(LABELS, alerts)
    assert (scores.recall, scores.precision, scores.alerts_per_referred_story) == (1.0, 1.0, 1.0)


def test_sustained_coverage_alerts_on_the_slow_story_by_its_third_post() -> None:
    # The default rule: 3 posts from 2 sources within the 3 h burst, or within 24 h.
    alerts = alerts_on_gold(LABELS, rule_of(AlertSettings()))
    assert [(alert.at, alert.article_ids[-1]) for alert in alerts] == [
        (T0 + timedelta(minutes=20), "a3"),
        (T0 + timedelta(minutes=400), "b3"),
    ]
    scores = emergence(LABELS, alerts)
    assert (scores.recall, scores.precision, scores.alerts_per_referred_story) == (1.0, 1.0, 1.0)
