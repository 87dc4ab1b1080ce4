"""Sparse vectors as (ascending indices, values): the TF-IDF side of articles, stories and the index."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SparseVector = tuple[NDArray[np.int64], NDArray[np.float32]]

EMPTY_SPARSE: SparseVector = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def sparse_of(dense: NDArray[np.float32]) -> SparseVector:
    """The non-zero dimensions of ``dense`` and their values (indices ascending)."""
    indices = np.flatnonzero(dense).astype(np.int64)
    return indices, dense[indices].astype(np.float32)


def sparse_add(left: SparseVector, right: SparseVector) -> SparseVector:
    """The sum of two sparse vectors (indices ascending)."""
    indices = np.union1d(left[0], right[0])
    values = np.zeros(len(indices), dtype=np.float32)
    np.add.at(values, np.searchsorted(indices, left[0]), left[1])
    np.add.at(values, np.searchsorted(indices, right[0]), right[1])
    return indices, values
