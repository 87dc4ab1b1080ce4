"""The detector's raw input: one message as a producer sent it, with where it came from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One message of the input topic (or one line of an input file): bytes not yet parsed, and their
    position, which dead letters and the tracker's re-delivery check refer to."""

    raw: bytes
    partition: int = 0
    offset: int = -1
