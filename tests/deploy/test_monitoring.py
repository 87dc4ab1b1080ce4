"""Static checks of the monitoring configuration: deploy/prometheus/ and deploy/grafana/.

Prometheus's own ``promtool`` checks the config and the rules and runs the alert expressions on made-up
series; every metric a dashboard or rule reads must be one the worker exports (a renamed metric fails
here); the dashboards are generated, point at the pinned datasource, and the README describes them.
tests/integration/test_prometheus_scrape.py runs the same queries against a real worker.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml
from monitoring_files import (
    DASHBOARD_PROVIDERS,
    DASHBOARDS_DIR,
    DATASOURCES,
    GRAFANA_DIR,
    PROMETHEUS_CONFIG,
    ROOT,
    RULES_DIR,
    alerting_rules,
    all_expressions,
    dashboards,
    for_prometheus,
    metric_names,
    panel_queries,
    panels,
    recording_rules,
    rules,
    unknown_metrics,
    worker_job,
)
from prometheus_client import CollectorRegistry
from support.metric_names import exported_names

from streams.metrics import FAUST_PREFIX
from streams.settings import Settings

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (make prometheus: apt-get install prometheus)"
)
REQUIRED_ALERTS = {
    "StreamsWorkerDown",
    "StreamsNoInput",
    "StreamsConsumerLagGrowing",
    "StreamsRejectRatioHigh",
    "StreamsEmbeddingLatencyHigh",
    "StreamsAlertStorm",
    "StreamsLateArrivals",
}


@cache
def worker_metric_names() -> frozenset[str]:
    """Every series name the worker's /metrics can show: its own metrics and faust's sensors."""
    from streams.kafka.app import create_app

    registry = CollectorRegistry()
    create_app(Settings(), registry=registry)
    return exported_names(registry)


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


# ---------------------------------------------------------------- promtool


@needs_promtool
def test_promtool_checks_the_config_and_its_rule_files() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    # The config's rule_files glob (relative to the config) finds the rules shipped in rules/.
    assert f"{len(list(RULES_DIR.glob('*.yml')))} rule files found" in result.stdout


@needs_promtool
def test_promtool_checks_the_rules() -> None:
    result = promtool("check", "rules", *map(str, sorted(RULES_DIR.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


# Each alert's expression on made-up series (1 sample a minute): (input series, eval time, the label sets
# it must return) when it must fire, and the same for a healthy stack, where it must return nothing.
W = 'job="streams-worker", instance="w1:6066"'
JOB = '{job="streams-worker"}'
LAG = f'streams_consumer_lag_messages{{{W}, topic="p.articles", partition="0"}}'
EMBED = "streams_embedding_duration_seconds_bucket"
IN = f'streams_articles_consumed_total{{{W}, source="a"}}'
REJECTED = f'streams_articles_rejected_total{{{W}, reason="malformed_json"}}'
LATE = f"streams_articles_late_total{{{W}}}"
ALERT_CASES: dict[str, list[tuple[dict[str, str], str, list[str]]]] = {
    "StreamsWorkerDown": [
        ({f"up{{{W}}}": "0x10"}, "5m", [f"{{{W}}}"]),
        ({'up{job="other", instance="x"}': "1x10"}, "5m", [JOB]),  # no worker target at all
        ({f"up{{{W}}}": "1x10"}, "5m", []),
    ],
    "StreamsNoInput": [
        ({f"up{{{W}}}": "1x20", IN: "10x20"}, "20m", [JOB]),
        ({f"up{{{W}}}": "1x20"}, "20m", [JOB]),  # a worker that never read anything
        ({f"up{{{W}}}": "1x20", IN: "0+10x20"}, "20m", []),
        ({f"up{{{W}}}": "0x20", IN: "10x20"}, "20m", []),
    ],
    "StreamsRejectRatioHigh": [
        (
            {
                IN: "0+60x30",
                REJECTED: "0+30x30",
            },
            "20m",
            [JOB],
        ),
        (
            {
                IN: "0+60x30",
                REJECTED: "0+6x30",
            },
            "20m",
            [],
        ),
    ],
    "StreamsEmbeddingLatencyHigh": [
        (
            {
                f'{EMBED}{{{W}, le="1"}}': "0x30",
                f'{EMBED}{{{W}, le="16"}}': "0+10x30",
                f'{EMBED}{{{W}, le="+Inf"}}': "0+10x30",
            },
            "20m",
            [JOB],
        ),
        ({f'{EMBED}{{{W}, le="1"}}': "0+10x30", f'{EMBED}{{{W}, le="+Inf"}}': "0+10x30"}, "20m", []),
    ],
    "StreamsConsumerLagGrowing": [
        ({LAG: "1000+100x40"}, "30m", ['{job="streams-worker", topic="p.articles"}']),
        ({LAG: "5000-100x40"}, "30m", []),  # a large but shrinking backlog (catching up) does not alert
        ({LAG: "100+1x40"}, "30m", []),  # growing, but small
    ],
    "StreamsAlertStorm": [
        ({f'streams_alerts_sent_total{{{W}, type="emerging"}}': "0+1x90"}, "80m", [JOB]),
        ({f'streams_alerts_sent_total{{{W}, type="emerging"}}': "0+0.1x90"}, "80m", []),
    ],
    "StreamsLateArrivals": [
        ({LATE: "0x10 1x10"}, "15m", [JOB]),  # one late article is one too many
        ({LATE: "0x20"}, "15m", []),
        ({LATE: "0 1x30"}, "30m", []),  # a late article 29 minutes ago: resolved after 15 minutes
        ({LATE: "3x10 0x10"}, "15m", []),  # a worker restart resets the counter: nothing new is late
    ],
}


@needs_promtool
def test_alert_expressions_fire_on_trouble_and_stay_quiet_otherwise(tmp_path: Path) -> None:
    assert set(ALERT_CASES) == REQUIRED_ALERTS
    alerts = alerting_rules()
    tests = []
    for name, cases in ALERT_CASES.items():
        # `* 0 + 1`: compare which series the alert returns, not float values (promtool compares exactly).
        expr = f"({alerts[name]['expr']}) * 0 + 1"
        for series, at, firing in cases:
            tests.append(
                {
                    "interval": "1m",
                    "input_series": [{"series": key, "values": values} for key, values in series.items()],
                    "promql_expr_test": [
                        {
                            "expr": expr,
                            "eval_time": at,
                            "exp_samples": [{"labels": labels, "value": 1} for labels in firing],
                        }
                    ],
                }
            )
    unit = tmp_path / "alerts_test.yml"
    unit.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(path) for path in sorted(RULES_DIR.glob("*.yml"))],
                "evaluation_interval": "1m",
                "tests": tests,
            }
        ),
        encoding="utf-8",
    )
    result = promtool("test", "rules", str(unit))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- rules


def test_the_required_alerts_exist_with_severity_summary_and_runbook() -> None:
    alerts = alerting_rules()
    assert set(alerts) >= REQUIRED_ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("page", "ticket"), name
        annotations = rule["annotations"]
        for key in ("summary", "description", "runbook"):
            assert len(annotations.get(key, "")) > 20, f"{name} has no {key}"
        assert re.search(r"^1\. ", annotations["runbook"], re.MULTILINE), f"{name}: give the runbook as steps"


def test_rules_select_the_worker_job_of_the_scrape_config() -> None:
    job = worker_job()
    for _, expr in all_expressions():
        for selected in re.findall(r'job="([^"]*)"', expr):
            assert selected == job, f"{expr} selects job {selected}, prometheus.yml scrapes {job}"


def test_recording_rules_follow_the_naming_convention_and_keep_the_job_label() -> None:
    for name, expr in recording_rules().items():
        level, metric, operation = name.split(":")
        assert "job" in level.split("_"), f"{name}: level:metric:operations, aggregated by job"
        assert metric.startswith("streams_") and operation, name
        assert "(job" in expr.replace(" ", ""), f"{name} drops the job label: {expr}"


# ---------------------------------------------------------------- metric names


def test_every_metric_a_dashboard_or_rule_reads_is_exported_by_the_worker() -> None:
    exported = worker_metric_names()
    recorded = frozenset(recording_rules())
    problems = [
        f"{where}: {sorted(unknown)}"
        for where, expr in all_expressions()
        if (unknown := unknown_metrics(expr, exported, recorded))
    ]
    assert not problems, "names no worker exports (renamed?):\n" + "\n".join(problems)


def test_the_name_check_catches_a_renamed_metric() -> None:
    exported = worker_metric_names()
    recorded = frozenset(recording_rules())
    # The check itself: each shipped metric, once gone from the worker, is reported where it is used.
    used = {name for _, expr in all_expressions() for name in metric_names(expr) if ":" not in name}
    streams_used = {name for name in used if name.startswith(("streams_", f"{FAUST_PREFIX}_"))}
    assert len(streams_used) >= 12
    for name in streams_used:
        without = exported - {name}
        assert any(name in unknown_metrics(expr, without, recorded) for _, expr in all_expressions())
    assert unknown_metrics("rate(job:streams_renamed:rate5m[5m])", exported, recorded) == {
        "job:streams_renamed:rate5m"
    }


def test_metric_names_are_read_from_promql() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, job) (rate(a_bucket{job="x", le!="1"}[$__rate_interval]))) '
        '/ on (job) group_left b_total offset 5m and c:d:e > bool 3 or time() - max(e > 0) unless f{g="h(i)"}'
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:d:e", "e", "f"}
    assert metric_names("sum without (source) (rate(streams_x_total[5m])) * 1e3") == {"streams_x_total"}


def test_worker_exports_faust_sensors_under_a_fixed_prefix() -> None:
    names = worker_metric_names()
    assert f"{FAUST_PREFIX}_messages_received_total" in names
    assert f"{FAUST_PREFIX}_topic_messages_sent_total" in names
    assert "process_cpu_seconds_total" in names
    assert not any(name.startswith("persian_news") for name in names), "faust's prefix must not be the app id"


# ---------------------------------------------------------------- grafana


def test_dashboards_are_generated_from_their_definitions() -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA_DIR / "dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_datasource_uid_is_pinned_and_used_by_every_panel() -> None:
    datasources = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))["datasources"]
    assert len(datasources) == 1
    source = datasources[0]
    assert source["type"] == "prometheus" and source["uid"] and source["url"] == "http://prometheus:9090"
    expected = {"type": "prometheus", "uid": source["uid"]}
    for name, dashboard in dashboards().items():
        for panel in panels(dashboard):
            assert panel["datasource"] == expected, f"{name}: {panel['title']}"
            for target in panel["targets"]:
                assert target.get("datasource", expected) == expected, f"{name}: {panel['title']}"


def test_dashboards_have_the_expected_shape() -> None:
    assert set(dashboards()) == {"pipeline.json", "stories.json"}
    uids = [dashboard["uid"] for dashboard in dashboards().values()]
    assert len(set(uids)) == len(uids)
    for name, dashboard in dashboards().items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        assert not dashboard["templating"]["list"], f"{name}: queries must run as they are (no variables)"
        for panel in panels(dashboard):
            title = panel["title"]
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {title} is wider than the dashboard"
            assert panel["description"], f"{name}: {title} does not say how to read it"
            assert panel["targets"], f"{name}: {title} has no query"
            refs = [target["refId"] for target in panel["targets"]]
            assert len(set(refs)) == len(refs)
            for target in panel["targets"]:
                for_prometheus(target["expr"])  # only Grafana's built-in variables


def test_dashboard_provider_reads_the_folder_compose_mounts() -> None:
    providers = yaml.safe_load(DASHBOARD_PROVIDERS.read_text(encoding="utf-8"))["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    volumes = compose["services"]["grafana"]["volumes"]
    mounts = {source: target for source, target, *_ in (str(volume).split(":") for volume in volumes)}
    path = providers[0]["options"]["path"]
    assert mounts.get("./deploy/grafana/dashboards") == path
    assert (ROOT / "deploy/grafana/dashboards").resolve() == DASHBOARDS_DIR.resolve()
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(path + "/") and (DASHBOARDS_DIR / Path(home).name).is_file()


def test_readme_describes_every_dashboard_panel() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Observability" in readme
    section = readme.split("## Observability", 1)[1].split("\n## ", 1)[0]
    for name, dashboard in dashboards().items():
        assert dashboard["title"] in section, f"README's Observability section lacks {dashboard['title']}"
        for panel in panels(dashboard):
            assert f"**{panel['title']}**" in section, f"README does not describe {name}: {panel['title']}"
    for alert in alerting_rules():
        assert alert in section, f"README's Observability section lacks alert {alert}"


def test_panel_queries_and_rules_are_counted() -> None:
    # Guards the helpers above against silently finding nothing.
    assert len(panel_queries()) >= 30
    assert len(rules()) >= 20
