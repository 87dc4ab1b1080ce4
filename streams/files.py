"""JSON-lines files: article files read as raw input messages (optionally gzipped), records written."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from streams.core.messages import InputMessage


def read_messages(path: Path) -> Iterator[InputMessage]:
    """Every non-blank line as the raw bytes a producer would send; ``offset`` is its line number
    (1-based)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            raw = line.rstrip(b"\r\n")
            if raw.strip():
                yield InputMessage(raw=raw, partition=0, offset=number)


def write_jsonl(path: Path, rows: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        _write_rows(handle, rows)


# JSON allows these raw inside strings, but str.splitlines() and many JSON-lines readers break lines on
# them: written escaped, one record stays one line (they can only occur inside strings here).
_LINE_BREAKS_IN_STRINGS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _write_rows(handle: IO[str], rows: Iterable[str]) -> None:
    for row in rows:
        handle.write(row.translate(_LINE_BREAKS_IN_STRINGS))
        handle.write("\n")
