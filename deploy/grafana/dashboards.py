"""Write the Grafana dashboards (deploy/grafana/dashboards/*.json) from the compact definitions below.

    python deploy/grafana/dashboards.py           # rewrite the JSON files
    python deploy/grafana/dashboards.py --check   # exit 1 when a JSON file is out of date

Dashboards as code: a panel is a title, a description that tells a person how to read it, and PromQL.
The tests check every query against the metrics the worker exports (tests/deploy/test_monitoring.py) and
run it on a real Prometheus scraping a worker (tests/integration/test_prometheus_scrape.py).
``$__rate_interval`` is Grafana's: four scrape intervals, the shortest window a rate can trust.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
#: Pinned in provisioning/datasources/prometheus.yml.
DATASOURCE = {"type": "prometheus", "uid": "streams-prometheus"}
JOB = 'job="streams-worker"'
RATE = "$__rate_interval"
WIDTH = 24


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    width: int = 12
    height: int = 8
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


def q(expr: str, legend: str = "") -> Query:
    return Query(" ".join(expr.split()), legend)


def quantiles(metric: str, *levels: float, by: str = "") -> tuple[Query, ...]:
    labels = f"{by}, le" if by else "le"
    return tuple(
        q(
            f"histogram_quantile({level}, sum by ({labels}) (rate({metric}_bucket[{RATE}])))",
            f"p{round(level * 100)}" + (f" {{{{{by}}}}}" if by else ""),
        )
        for level in levels
    )


def stat(title: str, description: str, expr: str, unit: str = "short", **options: Any) -> Panel:
    return Panel(title, description, (q(expr),), unit=unit, kind="stat", width=4, height=4, options=options)


PIPELINE = (
    Row(
        "Health now",
        (
            stat(
                "Workers up",
                "Worker processes Prometheus scrapes successfully. Red at 0: nothing is processed "
                "(alert StreamsWorkerDown).",
                f"sum(up{{{JOB}}})",
                thresholds=[(None, "red"), (1, "green")],
            ),
            stat(
                "Input",
                "Input messages read per second, accepted and rejected. 0 for 15 minutes pages "
                "(StreamsNoInput).",
                f"sum(rate(streams_articles_consumed_total[{RATE}]))",
                unit="suffix: articles/s",
            ),
            stat(
                "Output",
                "Articles assigned to a story per second. Close to Input minus rejects when the pipeline "
                "keeps up.",
                f"sum(rate(streams_articles_tracked_total[{RATE}]))",
                unit="suffix: articles/s",
            ),
            stat(
                "Rejected",
                "Share of input sent to the dead-letter topic over 5 minutes. Above 25% for 15 minutes: "
                "StreamsRejectRatioHigh.",
                "sum(job:streams_articles_rejected:ratio_rate5m)",
                unit="percentunit",
                thresholds=[(None, "green"), (0.1, "orange"), (0.25, "red")],
            ),
            stat(
                "Consumer lag",
                "Messages waiting in Kafka for this pipeline (high watermark minus committed offset, all "
                "partitions). Near 0 when the workers keep up.",
                "sum(streams_consumer_lag_messages)",
                unit="suffix: messages",
                thresholds=[(None, "green"), (500, "orange"), (5000, "red")],
            ),
            stat(
                "Processing p95",
                "95th percentile from a worker reading an article to its assignment being sent "
                "(embedding, the hop to the tracker, event-time reordering, tracking).",
                "histogram_quantile(0.95, sum by (le) "
                f"(rate(streams_processing_latency_seconds_bucket[{RATE}])))",
                unit="s",
                thresholds=[(None, "green"), (10, "orange"), (60, "red")],
            ),
        ),
    ),
    Row(
        "Throughput",
        (
            Panel(
                "Throughput in and out",
                "in: input messages read by the stateless stage; out: articles assigned to a story by "
                "the tracker; rejected: dead letters (both stages). in = out + rejected when nothing "
                "waits; a widening gap means a backlog (see consumer lag).",
                (
                    q(f"sum(rate(streams_articles_consumed_total[{RATE}]))", "in"),
                    q(f"sum(rate(streams_articles_tracked_total[{RATE}]))", "out"),
                    q(f"sum(rate(streams_articles_rejected_total[{RATE}]))", "rejected"),
                ),
                unit="suffix: articles/s",
            ),
            Panel(
                "Input by source (top 10)",
                "Input per source. A feed that drops to 0 while others go on has a producer problem. "
                "Sources beyond the label budget (STREAMS_METRICS__MAX_SOURCES) show as 'other'.",
                (
                    q(
                        f"topk(10, sum by (source) (rate(streams_articles_consumed_total[{RATE}])))",
                        "{{source}}",
                    ),
                ),
                unit="suffix: articles/s",
            ),
            Panel(
                "Rejected by reason",
                "Dead letters per reason code (README: Records). malformed_json, missing_field or "
                "invalid_timestamp rising: a producer changed its format; not_persian: a new feed; "
                "duplicate_id: a producer re-sends.",
                (q(f"sum by (reason) (rate(streams_articles_rejected_total[{RATE}]))", "{{reason}}"),),
                unit="suffix: articles/s",
            ),
            Panel(
                "Messages sent per topic",
                "Faust's producer: messages per second to each topic (embedded articles, assignments, "
                "story snapshots, alerts, dead letters).",
                (q(f"sum by (topic) (rate(faust_topic_messages_sent_total[{RATE}]))", "{{topic}}"),),
                unit="suffix: messages/s",
            ),
        ),
    ),
    Row(
        "Latency",
        (
            Panel(
                "Embedding batch duration",
                "Time to embed one batch (the bundled e5 model: about 2 s for 32 texts on 2 cores). p95 "
                "above 10 s for 10 minutes: StreamsEmbeddingLatencyHigh.",
                quantiles("streams_embedding_duration_seconds", 0.5, 0.95),
                unit="s",
            ),
            Panel(
                "Embedding batch size",
                "Texts per embedding batch. Small batches at high input mean the batch window "
                "(STREAMS_WORKER__EMBED_BATCH_SECONDS) closes first; full batches (32) mean a backlog.",
                (
                    *quantiles("streams_embedding_batch_size", 0.5),
                    q(
                        f"sum(rate(streams_embedding_batch_size_sum[{RATE}])) "
                        f"/ sum(rate(streams_embedding_batch_size_count[{RATE}]))",
                        "mean",
                    ),
                ),
            ),
            Panel(
                "Tracker time per article",
                "The story tracker's work for one article (assign, score, alert). It runs on one "
                "partition: its throughput is about 1 / this time.",
                quantiles("streams_tracker_duration_seconds", 0.5, 0.95, 0.99),
                unit="s",
            ),
            Panel(
                "End-to-end latency",
                "processing: a worker reading an article to its assignment being sent. end-to-end: from "
                "the input message's Kafka timestamp (its produce time), so it includes time waiting in "
                "Kafka. During a replay messages carry published_at as timestamp and end-to-end reads as "
                "the events' age.",
                (
                    *quantiles("streams_processing_latency_seconds", 0.5, 0.95),
                    q(
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(streams_end_to_end_latency_seconds_bucket[{RATE}])))",
                        "end-to-end p95",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Event-time lag",
                "Wall clock minus published_at when an assignment is sent: how old the news is when its "
                "story is known. Live: the producers' delay plus processing. During a replay of history: "
                "the age of the replayed events.",
                quantiles("streams_event_time_lag_seconds", 0.5, 0.95),
                unit="s",
            ),
            Panel(
                "Kafka produce latency",
                "Faust's producer: time until the broker acknowledges a message (acks=all), in ms. "
                "Rising here with everything else flat points at the brokers.",
                quantiles("faust_producer_send_latency", 0.5, 0.95),
                unit="ms",
            ),
        ),
    ),
    Row(
        "Backlog and resources",
        (
            Panel(
                "Consumer lag by partition",
                "Messages waiting per topic partition. <prefix>.articles: the stateless stage (add "
                "workers, up to the partition count); <prefix>.articles.embedded: the single story "
                "tracker. Growing for 15 minutes: StreamsConsumerLagGrowing.",
                (
                    q(
                        "sum by (topic, partition) (streams_consumer_lag_messages)",
                        "{{topic}} [{{partition}}]",
                    ),
                ),
                unit="suffix: messages",
            ),
            Panel(
                "Reorder buffer",
                "Articles the tracker holds until every input partition has passed their event time. "
                "It empties within STREAMS_TRACKER__REORDER_IDLE_SECONDS of a partition going quiet.",
                (q("sum(streams_reorder_buffer_articles)", "held"),),
                unit="suffix: articles",
            ),
            Panel(
                "Late arrivals (1 h)",
                "Articles that reached the reorder buffer after it had released later event times, in the "
                "last hour. They are tracked at once, out of order: the live stories may then differ from "
                "an offline run. Should stay 0; above 0: StreamsLateArrivals.",
                (q("sum(increase(streams_articles_late_total[1h]))", "late"),),
                unit="suffix: articles",
                width=8,
            ),
            Panel(
                "Worker CPU",
                "CPU used per worker process (1 = one core). Embedding is CPU-bound: a worker at its "
                "cores' limit with growing lag needs company.",
                (q(f"rate(process_cpu_seconds_total{{{JOB}}}[{RATE}])", "{{instance}}"),),
                unit="percentunit",
                width=8,
            ),
            Panel(
                "Worker memory",
                "Resident memory per worker process (the e5 model, the story window's vectors).",
                (q(f"process_resident_memory_bytes{{{JOB}}}", "{{instance}}"),),
                unit="bytes",
                width=8,
            ),
        ),
    ),
)

STORIES = (
    Row(
        "Now",
        (
            stat(
                "Active stories",
                "Stories with an article within the story window (STREAMS_TRACKER__WINDOW_HOURS of event "
                "time).",
                "sum(streams_active_stories)",
            ),
            stat(
                "Stories created (24 h)",
                "New stories opened in the last 24 hours.",
                "sum(increase(streams_stories_created_total[24h]))",
            ),
            stat(
                "Alerts sent (24 h)",
                "Emerging-story alerts in the last 24 hours (about 20 on a normal day of the developers' "
                "Telegram data). More than 20 in one hour: StreamsAlertStorm.",
                "sum(increase(streams_alerts_sent_total[24h]))",
            ),
            stat(
                "Alerts (1 h)",
                "Alerts in the last hour (recording rule job:streams_alerts_sent:increase1h).",
                "sum(job:streams_alerts_sent:increase1h)",
                thresholds=[(None, "green"), (10, "orange"), (20, "red")],
            ),
            stat(
                "Tracker event time",
                "published_at of the last article the tracker assigned: where the story view stands in "
                "news time (during a replay it moves through the replayed days).",
                "max(streams_tracker_event_time_seconds > 0) * 1000",
                unit="dateTimeAsIso",
            ),
            stat(
                "Event time behind",
                "Wall clock minus the tracker's event time: seconds to minutes live, the events' age "
                "during a replay.",
                "time() - max(streams_tracker_event_time_seconds > 0)",
                unit="s",
            ),
        ),
    ),
    Row(
        "Stories and alerts",
        (
            Panel(
                "Active stories",
                "Open stories over time. It follows the news cycle; a steady climb over days means "
                "stories never close (check the window and the input's timestamps).",
                (q("sum(streams_active_stories)", "active"),),
            ),
            Panel(
                "Stories created per hour",
                "New stories per hour next to articles per hour: most articles should join existing stories.",
                (
                    q(f"sum(rate(streams_stories_created_total[{RATE}])) * 3600", "new stories"),
                    q(f"sum(rate(streams_articles_tracked_total[{RATE}])) * 3600", "articles"),
                ),
                unit="suffix: /h",
            ),
            Panel(
                "Share of articles opening a story",
                "New stories / tracked articles. A jump towards 100% means articles stop joining stories: "
                "the embedder or threshold changed, or the input is noise.",
                (
                    q(
                        f"sum(rate(streams_stories_created_total[{RATE}])) "
                        f"/ sum(rate(streams_articles_tracked_total[{RATE}]))",
                        "new story share",
                    ),
                ),
                unit="percentunit",
            ),
            Panel(
                "Alerts by type",
                "Emerging-story alerts per hour, by type. Read them with `python -m streams alerts`.",
                (q(f"sum by (type) (rate(streams_alerts_sent_total[{RATE}])) * 3600", "{{type}}"),),
                unit="suffix: /h",
            ),
        ),
    ),
)


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    thresholds = panel.options.get("thresholds", [(None, "green")])
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "range": True,
                "instant": False,
            }
            for index, query in enumerate(panel.queries)
        ],
        "fieldConfig": {
            "defaults": {
                "unit": panel.unit,
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"value": value, "color": color} for value, color in thresholds],
                },
            },
            "overrides": [],
        },
    }
    if panel.kind == "stat":
        body["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "value",
        }
    else:
        body["fieldConfig"]["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}
        body["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    return body


def dashboard(uid: str, title: str, description: str, rows: tuple[Row, ...]) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        x, line_height = 0, 0
        for panel in row.panels:
            if x + panel.width > WIDTH:
                x, y = 0, y + line_height
                line_height = 0
            panels.append(_panel_json(panel, len(panels) + 1, x, y))
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["persian-news-streams"],
        "timezone": "browser",
        "editable": False,
        "graphTooltip": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["persian-news-streams"],
                "title": "Streams dashboards",
                "asDropdown": False,
            }
        ],
        "panels": panels,
    }


DASHBOARDS = {
    "pipeline.json": dashboard(
        "streams-pipeline",
        "Streams: pipeline",
        "Is the pipeline healthy and keeping up? Throughput in and out, rejects, latencies, lags.",
        PIPELINE,
    ),
    "stories.json": dashboard(
        "streams-stories",
        "Streams: stories",
        "What the pipeline produces: active and new stories, emerging-story alerts.",
        STORIES,
    ),
}


def render(content: dict[str, Any]) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a JSON file is out of date")
    args = parser.parse_args()
    stale = []
    for name, content in DASHBOARDS.items():
        path = OUT / name
        text = render(content)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parents[1])}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python deploy/grafana/dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
