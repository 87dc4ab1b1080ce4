"""A real Prometheus scrapes a real worker during a replay of the sample: the monitoring works end to end.

Prometheus (Debian's package; `make prometheus` installs it) runs on a free loopback port with a generated
config: the project's worker job pointed at the worker's web port, a 1 s scrape and rule interval, and the
project's rule files. Every dashboard query and every rule must evaluate without error, every rule must be
healthy in Prometheus, and every dashboard panel's query must return a finite value during the replay.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from harness import ROOT, Worker, free_port, wait_until

PROMETHEUS = shutil.which("prometheus")
SAMPLE = ROOT / "samples" / "persian-news-sample.jsonl"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="the prometheus binary is not installed: `make prometheus` (apt-get install prometheus)",
    ),
]


def _monitoring_files() -> ModuleType:
    """tests/deploy/monitoring_files.py: the same parsing of dashboards and rules as the static checks."""
    if "monitoring_files" in sys.modules:
        return sys.modules["monitoring_files"]
    spec = importlib.util.spec_from_file_location(
        "monitoring_files", ROOT / "tests" / "deploy" / "monitoring_files.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


monitoring = _monitoring_files()


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def get(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400/422: the body says why (a PromQL error)
            return json.loads(error.read())

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"prometheus exited with {self.process.returncode}:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` now; fail with Prometheus's error if it does not evaluate."""
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", f"{expr}\n-> {answer.get('errorType')}: {answer.get('error')}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[int], Prometheus]]:
    """Start Prometheus scraping a worker's web port with the project's job and rule files."""
    servers: list[Prometheus] = []

    def start(worker_port: int) -> Prometheus:
        project = yaml.safe_load(monitoring.PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
        job = project["scrape_configs"][0]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in sorted(monitoring.RULES_DIR.glob("*.yml"))],
            "scrape_configs": [
                {
                    "job_name": job["job_name"],
                    "metrics_path": job.get("metrics_path", "/metrics"),
                    "static_configs": [{"targets": [f"127.0.0.1:{worker_port}"]}],
                }
            ],
        }
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        port = free_port()
        log_path = tmp_path / "prometheus.log"
        assert PROMETHEUS is not None
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = Prometheus(f"http://127.0.0.1:{port}", process, log_path)
        servers.append(server)
        wait_until(server.ready, timeout=60, what="prometheus to be ready")
        return server

    yield start
    for server in servers:
        server.process.terminate()
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)


def target_health(server: Prometheus) -> str | None:
    targets = server.get("/api/v1/targets")["data"]["activeTargets"]
    return str(targets[0]["health"]) if targets else None


def rule_health(server: Prometheus) -> dict[str, tuple[str, str]]:
    """Rule name -> (health, last error) as Prometheus reports them."""
    groups = server.get("/api/v1/rules")["data"]["groups"]
    return {
        rule["name"]: (rule["health"], rule.get("lastError", ""))
        for group in groups
        for rule in group["rules"]
    }


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


def test_prometheus_scrapes_the_worker_during_a_replay(
    pipeline_env: dict[str, str],
    start_worker: Callable[[dict[str, str]], Worker],
    start_prometheus: Callable[[int], Prometheus],
) -> None:
    # The production embedder; lag computed every second so the short test sees it.
    env = {**pipeline_env, "STREAMS_EMBEDDER__BACKEND": "onnx", "STREAMS_METRICS__LAG_INTERVAL_SECONDS": "1"}
    worker = start_worker(env)
    server = start_prometheus(worker.web_port)
    wait_until(lambda: target_health(server) == "up", timeout=60, what="the worker target to be up")
    assert server.query(f'up{{job="{monitoring.worker_job()}"}}')[0]["value"][1] == "1"

    # Every expression parses and evaluates before any data exists...
    expressions = monitoring.all_expressions()
    for _, expr in expressions:
        server.query(monitoring.for_prometheus(expr))

    subprocess.run(
        [sys.executable, "-m", "streams", "replay", str(SAMPLE), "--max-rate", "--no-progress"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )

    # ... and every panel shows a number while the replay flows through the worker.
    waiting = {str(query): query for query in monitoring.panel_queries()}

    def every_panel_has_data() -> bool:
        for key, query in list(waiting.items()):
            if has_finite_value(server.query(monitoring.for_prometheus(query.expr))):
                del waiting[key]
        return not waiting

    try:
        wait_until(every_panel_has_data, timeout=300, what="every dashboard panel to show data", interval=1)
    except AssertionError as error:
        raise AssertionError(f"{error}; no data for:\n" + "\n".join(waiting) + worker.log()[-2000:]) from None

    # Prometheus evaluated every recording and alerting rule without error.
    names = {name for name, _ in monitoring.rule_expressions()}
    wait_until(
        lambda: (
            set(rule_health(server)) == names
            and all(health != "unknown" for health, _ in rule_health(server).values())
        ),
        timeout=60,
        what="every rule to be evaluated",
    )
    broken = {name: health for name, health in rule_health(server).items() if health != ("ok", "")}
    assert not broken, broken
    # With data present, every expression still evaluates (errors such as many-to-many matches only show
    # on real series); the recording rules produce series.
    for _, expr in expressions:
        server.query(monitoring.for_prometheus(expr))
    for record in monitoring.recording_rules():
        if "consumer_lag" in record or "streams_articles" in record:
            # A rule's first series appears at its next evaluation after the metric's first sample.
            wait_until(
                lambda record=record: bool(server.query(record)), timeout=60, what=f"series of {record}"
            )
    # A healthy worker during a replay: the worker-down alert stays silent.
    assert not server.query('ALERTS{alertname="StreamsWorkerDown"}')
