"""Tracker checkpoints: the story tracker's whole state at a position of its input topic.

The worker writes one every ``worker.checkpoint_every`` tracked articles to the compacted
``<prefix>.tracker.checkpoints`` topic, after flushing everything it emitted so far. A restarted (or
newly assigned) tracker loads the latest one and re-processes its input from the checkpoint's offset on,
so it neither loses an article nor rebuilds state from the beginning of time. Outputs between the
checkpoint and the crash are emitted again (at-least-once, with idempotent keys and stable alert ids).

JSON compressed with zlib: the state is read back from Kafka, so no pickle.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from streams.settings import Settings

FORMAT_VERSION = 1
CHECKPOINT_KEY = b"tracker"


def settings_fingerprint(settings: Settings, embedder_name: str) -> str:
    """What a checkpoint's state depends on: the tracker, alert and embedder settings and the model."""
    relevant = {
        "tracker": settings.tracker.model_dump(exclude={"reorder_idle_seconds"}),
        "alerts": settings.alerts.model_dump(),
        "embedder": embedder_name,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """State after processing input ``offset`` (the tracker's input topic has one partition)."""

    offset: int
    fingerprint: str
    dimension: int
    detector: dict[str, Any]
    buffer: dict[str, Any]
    # Highest input offset accepted per input partition (keys: partition numbers as text).
    input_offsets: dict[str, int]

    def to_bytes(self) -> bytes:
        payload = {
            "format": FORMAT_VERSION,
            "offset": self.offset,
            "fingerprint": self.fingerprint,
            "dimension": self.dimension,
            "detector": self.detector,
            "buffer": self.buffer,
            "input_offsets": self.input_offsets,
        }
        return zlib.compress(json.dumps(payload, separators=(",", ":")).encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Checkpoint:
        """Raises ValueError when ``raw`` is not a checkpoint this version can read."""
        try:
            payload = json.loads(zlib.decompress(raw))
        except (zlib.error, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"not a tracker checkpoint: {error}") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported checkpoint format {payload.get('format')!r}")
        return cls(
            offset=int(payload["offset"]),
            fingerprint=str(payload["fingerprint"]),
            dimension=int(payload["dimension"]),
            detector=payload["detector"],
            buffer=payload["buffer"],
            input_offsets={str(key): int(value) for key, value in payload["input_offsets"].items()},
        )
