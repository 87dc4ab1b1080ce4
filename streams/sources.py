"""Reading article files (JSON lines, optionally gzipped) as raw input messages."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

from streams.pipeline import InputMessage


def read_messages(path: Path) -> Iterator[InputMessage]:
    """Every non-blank line as the raw bytes a producer would send; ``offset`` is its line number
    (1-based)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if raw.strip():
                yield InputMessage(raw=raw, partition=0, offset=number)
