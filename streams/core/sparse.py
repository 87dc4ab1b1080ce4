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
    """The sum of two sparse vectors (indices ascending).

    Scattered into a dense scratch of the largest index instead of ``np.union1d`` (a sort): the same
    indices and, summed once in float32 per shared index, the same values.
    """
    if not len(left[0]) or not len(right[0]):
        only = right if not len(left[0]) else left
        return only[0].astype(np.int64, copy=True), only[1].astype(np.float32, copy=True)
    size = max(int(left[0][-1]), int(right[0][-1])) + 1
    present = np.zeros(size, dtype=bool)
    present[left[0]] = True
    present[right[0]] = True
    sums = np.zeros(size, dtype=np.float32)
    sums[left[0]] = left[1]
    sums[right[0]] += right[1]
    indices = np.flatnonzero(present).astype(np.int64, copy=False)
    return indices, sums[indices]
