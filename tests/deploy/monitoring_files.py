"""The monitoring configuration as data: dashboard panel queries, rule expressions, and the metric names
that PromQL expressions read. Shared by tests/deploy/test_monitoring.py and
tests/integration/test_prometheus_scrape.py (which loads this file by path)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "streams.yml"

#: Series that Prometheus makes itself for every target: not exported by the worker.
PROMETHEUS_BUILTINS = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

#: Grafana's built-in variables, and what they stand for when a test sends a query to Prometheus itself.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}

_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}
    | {"inf", "nan"}
)
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# An identifier that is neither part of a longer one nor a function call.
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref_id: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref_id}: {self.expr}"


@cache
def dashboards() -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON."""
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that shows data (rows, and the panels inside collapsed rows, flattened)."""
    found = []
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            found.extend(panel.get("panels", []))
        else:
            found.append(panel)
    return found


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(dashboard["title"], panel["title"], target["refId"], target["expr"])
        for dashboard in dashboards().values()
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
    ]


@cache
def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def recording_rules() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}


def alerting_rules() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def rule_expressions() -> list[tuple[str, str]]:
    """(rule name, expression) of every recording and alerting rule."""
    return [(rule.get("record") or rule["alert"], rule["expr"]) for rule in rules()]


def all_expressions() -> list[tuple[str, str]]:
    """(where, expression) of every PromQL expression the project ships."""
    return [(str(query), query.expr) for query in panel_queries()] + [
        (f"rule {name}", expr) for name, expr in rule_expressions()
    ]


def worker_job() -> str:
    """The scrape job of the workers in deploy/prometheus/prometheus.yml (the first job)."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    return str(config["scrape_configs"][0]["job_name"])


def for_prometheus(expr: str) -> str:
    """A panel's query as Prometheus itself would run it: Grafana's variables replaced."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr}"
    return expr


def metric_names(expr: str) -> set[str]:
    """The metric (and recording rule) names an expression reads.

    Strings, label matchers, range selectors and label lists (``by (...)``) are removed first; what is left
    that is neither a keyword nor a function call is a metric name.
    """
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = re.sub(r"\boffset\s+\S+", " ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def unknown_metrics(expr: str, exported: frozenset[str], recorded: frozenset[str]) -> set[str]:
    """Names in ``expr`` that the worker does not export, no recording rule defines and Prometheus does
    not make."""
    unknown = set()
    for name in metric_names(expr):
        if ":" in name:
            if name not in recorded:
                unknown.add(name)
        elif name not in exported and name not in PROMETHEUS_BUILTINS:
            unknown.add(name)
    return unknown
