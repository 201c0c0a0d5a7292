"""A bounded-memory latency histogram (log-spaced buckets), mergeable across workers."""

from __future__ import annotations

import numpy as np

__all__ = ["LatencyHistogram"]


class LatencyHistogram:
    """Counts latencies in log-spaced buckets: constant memory, ~2% resolution.

    Args:
        min_s: Lower edge of the first bucket (smaller values land in it).
        max_s: Upper edge of the last bucket (larger values land in it).
        buckets_per_decade: Resolution.
    """

    def __init__(self, *, min_s: float = 1e-6, max_s: float = 1e4, buckets_per_decade: int = 100) -> None:
        self._log_min = np.log10(min_s)
        self._per_decade = buckets_per_decade
        n = int(round((np.log10(max_s) - self._log_min) * buckets_per_decade))
        self.counts = np.zeros(n, dtype=np.int64)
        self.max_s = 0.0
        self.total = 0

    def _index(self, latency_s: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            idx = np.floor((np.log10(np.maximum(latency_s, 1e-12)) - self._log_min) * self._per_decade)
        return np.clip(idx, 0, self.counts.size - 1).astype(np.int64)

    def add(self, latency_s: float | np.ndarray, *, weight: int | np.ndarray = 1) -> None:
        """Record latencies, each counted ``weight`` times (e.g. events in a batch)."""
        lat = np.atleast_1d(np.asarray(latency_s, dtype=np.float64))
        w = np.broadcast_to(np.asarray(weight, dtype=np.int64), lat.shape)
        np.add.at(self.counts, self._index(lat), w)
        self.total += int(w.sum())
        if lat.size:
            self.max_s = max(self.max_s, float(lat.max()))

    def merge(self, other: LatencyHistogram) -> None:
        """Add another histogram's counts (same binning)."""
        self.counts += other.counts
        self.total += other.total
        self.max_s = max(self.max_s, other.max_s)

    def quantile(self, q: float) -> float:
        """The q-quantile in seconds (bucket upper edge; 0.0 when empty)."""
        if self.total == 0:
            return 0.0
        rank = int(np.ceil(q * self.total))
        idx = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1)))
        edge = 10 ** (self._log_min + (idx + 1) / self._per_decade)
        return min(edge, self.max_s)

    def summary_ms(self) -> dict[str, float]:
        """``{"p50", "p99", "max"}`` in milliseconds."""
        return {
            "p50": round(self.quantile(0.50) * 1e3, 3),
            "p99": round(self.quantile(0.99) * 1e3, 3),
            "max": round(self.max_s * 1e3, 3),
        }
