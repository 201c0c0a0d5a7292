"""Per-event (segment) reductions over flat object arrays, independent of the batch.

Objects of a batch are stored flat with offsets marking each event's range.
Every reduction here works event by event (``reduceat`` on each event's own
range, integer cumulative sums for counts), so an event's result never depends
on which other events share its batch: the basis of DESIGN.md invariant 2.
At the bottom layer, beside :mod:`trigger.schema`, so that every layer can use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["segment_count", "segment_max", "segment_sum"]


def segment_count(mask: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Count True values per segment.

    Args:
        mask: Boolean per object (flat).
        offsets: Segment boundaries, rebased so ``offsets[0] == 0``; length n+1.

    Returns:
        int64 counts, one per segment.
    """
    # int32 running counts (a quarter less time than int64) while they cannot overflow;
    # one gather at the boundaries and a diff (half the gathers of cs[ends] - cs[starts]).
    cs = np.zeros(mask.size + 1, dtype=np.int32 if mask.size < 2**31 else np.int64)
    np.cumsum(mask, out=cs[1:])
    return np.diff(cs.take(offsets)).astype(np.int64, copy=False)


def _segment_reduce(ufunc: np.ufunc, values: np.ndarray, offsets: np.ndarray, empty: Any) -> np.ndarray:
    n = offsets.size - 1
    counts = np.diff(offsets)
    out = np.full(n, empty, dtype=values.dtype)
    nonempty = counts > 0
    if values.size and nonempty.any():
        # reduceat on the starts of non-empty segments only: each segment is reduced
        # on its own, in order, so the result is independent of the batch.
        starts = offsets[:-1][nonempty]
        out[nonempty] = ufunc.reduceat(values, starts)
    return out


def segment_sum(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sum per segment (0 for empty segments), each segment reduced independently."""
    return _segment_reduce(np.add, values, offsets, 0)


def segment_max(values: np.ndarray, offsets: np.ndarray, *, empty: float = 0.0) -> np.ndarray:
    """Maximum per segment (``empty`` for empty segments)."""
    return _segment_reduce(np.maximum, values, offsets, empty)
