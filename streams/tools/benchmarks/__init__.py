"""The benchmark suite (``python -m streams bench``): every stage measured against its limit, side by side.

- ``inprocess``: normalization, embedding (each embedder and the raw e5 model), the story tracker at a
  given number of active stories, the whole Detector (no faust, no broker);
- ``kafka``: the real broker and the worker as a separate process (throughput, latency, peak memory);
- ``runner``: one run of all of them, the targets of issue 4 checked, one JSON report;
- ``machine``: the machine and versions recorded with the figures.

Method and latest figures: docs/PERFORMANCE.md.
"""

from streams.tools.benchmarks.runner import BenchConfig, check_targets, run_benchmark, summary

__all__ = ["BenchConfig", "check_targets", "run_benchmark", "summary"]
