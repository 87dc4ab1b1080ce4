"""Every metric name a registry can expose, for the tests that check dashboards and rules against it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric


def exported_names(registry: CollectorRegistry) -> frozenset[str]:
    """Every sample name ``registry`` can expose, children created or not (``x_total``, ``x_bucket``...)."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "info": ("_info",),
    }
    names: set[str] = set()
    metric: Metric
    for metric in registry.collect():
        names.update(metric.name + suffix for suffix in suffixes.get(metric.type, ("",)))
        names.update(sample.name for sample in metric.samples)
    return frozenset(names)
