"""The alert rule on perfect clusters: the Detector's alert policy run over the gold stories themselves.

Separates what the rule can do from what the clustering lets it do: with the gold stories as the clusters,
recall and delay depend on the rule alone (``python -m streams evaluate --alerts-on-gold``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from streams.core.alerts import AlertPolicy
from streams.core.emergence import EmergenceRule
from streams.core.story import Story
from streams.settings import AlertSettings
from streams.tools.evaluation.gold import EvaluationData, load_labels, published_times, read_stream
from streams.tools.evaluation.metrics import AlertView, GoldLabel, emergence


def rule_of(settings: AlertSettings) -> EmergenceRule:
    return EmergenceRule.from_settings(settings)


def alerts_on_gold(labels: Mapping[str, GoldLabel], rule: EmergenceRule) -> list[AlertView]:
    """The alerts ``rule`` raises when the day's posts arrive in event-time order and each joins its gold
    story (the policy sees exactly what it sees in the Detector: the story's timeline and sources)."""
    policy = AlertPolicy(rule)
    stories: dict[str, Story] = {}
    alerts: list[AlertView] = []
    for item in sorted(labels, key=lambda item: (labels[item].published_at, item)):
        label = labels[item]
        at = label.published_at
        story = stories.get(label.story)
        if story is None:
            story = stories[label.story] = Story(
                story_id=label.story,
                first_seen=at,
                last_seen=at,
                headline="",
                vector_sum=np.zeros(1, np.float32),
            )
        story.article_ids.append(item)
        story.sources[label.source] += 1
        story.timeline.append((at, label.source))
        story.last_seen = max(story.last_seen, at)
        alert = policy.consider(story, at)
        if alert is not None:
            alerts.append(AlertView(alert.alert_id, alert.at, tuple(alert.article_ids)))
    return alerts


def gold_alert_report(data_root: Path, days: Sequence[date], settings: AlertSettings) -> dict[str, Any]:
    """Emergence scores per gold day of the alert rule on the gold stories."""
    data = EvaluationData(data_root)
    data.check()
    published_by_id = published_times(read_stream(data.stream))
    rule = rule_of(settings)
    report: dict[str, Any] = {"alerts": settings.model_dump(), "days": {}}
    for day in days:
        labels = load_labels(data, day, published_by_id)
        report["days"][day.isoformat()] = {
            "split": data.split_of(day),
            "emergence": emergence(labels, alerts_on_gold(labels, rule)).as_dict(),
        }
    return report


def format_gold_alert_report(report: dict[str, Any]) -> str:
    rule = report["alerts"]
    out = [
        f"alert rule on the gold stories: >= {rule['min_articles']} articles from >= {rule['min_sources']} "
        f"sources within {rule['burst_window_minutes']:g} min{_sustained(rule)}, story younger than "
        f"{rule['max_story_age_hours']:g} h",
        f"{'day':<18} {'emerging':>8} {'alerts':>6} {'recall':>6} {'prec':>6} {'al/st':>5} {'posts':>5} "
        f"{'min':>6}",
    ]
    for day, result in report["days"].items():
        e = result["emergence"]
        posts, minutes = e["median_posts_before_alert"], e["median_minutes_to_alert"]
        out.append(
            f"{day + ' (' + result['split'] + ')':<18} {e['emerging_stories']:>8} {e['alerts']:>6} "
            f"{e['recall']:>6.3f} {e['precision']:>6.3f} {e['alerts_per_referred_story']:>5.2f} "
            f"{'-' if posts is None else f'{posts:g}':>5} {'-' if minutes is None else f'{minutes:.0f}':>6}"
        )
    return "\n".join(out)


def _sustained(rule: dict[str, Any]) -> str:
    if not rule["sustained_window_hours"]:
        return ""
    return (
        f", or >= {rule['sustained_min_articles']} from >= {rule['sustained_min_sources']} within "
        f"{rule['sustained_window_hours']:g} h"
    )
