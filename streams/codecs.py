"""Plain-text codecs shared by the wire records, checkpoints and caches (no pickle: all of them are read
back from Kafka or from disk)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray


def encode_float32(vector: NDArray[np.float32]) -> str:
    """A vector as base64 of its little-endian float32 bytes (embedded records, embedding caches)."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_float32(text: str) -> NDArray[np.float32]:
    return np.frombuffer(base64.b64decode(text), dtype="<f4").astype(np.float32)


def encode_array(array: NDArray[Any]) -> dict[str, Any]:
    """An array of any dtype and shape as {dtype, shape, base64 little-endian bytes} (checkpoints)."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {
        "dtype": array.dtype.str.lstrip("<>|="),
        "shape": list(array.shape),
        "data": base64.b64encode(little.tobytes()).decode("ascii"),
    }


def decode_array(encoded: dict[str, Any]) -> NDArray[Any]:
    dtype = np.dtype("<" + encoded["dtype"]) if encoded["dtype"][0] in "fiu" else np.dtype(encoded["dtype"])
    flat = np.frombuffer(base64.b64decode(encoded["data"]), dtype=dtype)
    return flat.reshape(encoded["shape"]).astype(dtype.newbyteorder("="))


def encode_time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def decode_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None
