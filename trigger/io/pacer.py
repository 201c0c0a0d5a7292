"""Paced replay: emit batches on a schedule (events/s or bytes/s), as a detector would deliver them.

Event ``j`` of the replay (counting from 0) is due at ``t0 + (j + 1) / rate``
(bytes mode: when the bytes up to and including it are due). A batch is
emitted when its last event is due: the pacer sleeps until then, stamps every
event's ``timestamp_ns`` with its own due time, and sets the batch's
``emitted_ns`` to the scheduled emission time. When the consumer is slower
than the rate (the pipeline's queues are full), a batch leaves late: the delay
is recorded, and decision latency, measured from the schedule, includes it,
as it would for a detector whose farm falls behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.io.batch import EventBatch
from trigger.units import Rate
from trigger.units import parse_rate as _parse_rate

__all__ = ["Pacer", "Rate", "parse_rate", "restamp"]


def restamp(data: pa.RecordBatch, stamps: np.ndarray) -> pa.RecordBatch:
    """The batch with ``timestamp_ns`` replaced by ``stamps`` (unchanged without that column)."""
    idx = data.schema.get_field_index("timestamp_ns")
    if idx < 0:
        return data
    columns = list(data.columns)
    columns[idx] = pa.array(stamps, type=data.schema.field(idx).type)
    return pa.RecordBatch.from_arrays(columns, schema=data.schema)

def parse_rate(text: str) -> Rate:
    """Parse a replay rate: ``100kHz``, ``5000`` (events/s), ``5k events/s``, ``2GB/s``, ``500MiB/s`` (bytes/s).

    The grammar of :func:`trigger.units.parse_rate`, where a bare number is
    an event rate (``--rate 5000``).

    Raises:
        ConfigError: If the text is not a positive rate, with examples.
    """
    return _parse_rate(text, what="rate", bare_number_is_events=True)


class Pacer:
    """Emits batches on the schedule of a rate and records how far it fell behind.

    Args:
        rate: The rate (see :func:`parse_rate`).
        clock_ns: Wall clock in ns since the epoch (the unit of ``timestamp_ns``).
        sleep_s: Sleeps that many seconds (injectable for tests).
    """

    def __init__(self, rate: Rate, *, clock_ns: Callable[[], int] = time.time_ns,
                 sleep_s: Callable[[float], None] = time.sleep) -> None:
        self.rate = rate
        self._clock, self._sleep = clock_ns, sleep_s
        self.t0_ns: int | None = None
        self.units_done = 0.0
        self.events = 0
        self.batches = 0
        self.late_batches = 0
        self.behind_max_ns = 0
        self.behind_last_ns = 0
        self.behind_sum_ns = 0
        self.last_emit_ns = 0

    def pace(self, batches: Iterable[EventBatch]) -> Iterator[EventBatch]:
        """Yield ``batches`` on schedule, restamped (``timestamp_ns`` per event, ``emitted_ns``)."""
        ns_per_unit = 1e9 / self.rate.per_s
        for batch in batches:
            n = batch.data.num_rows
            units = float(n if self.rate.unit == "events" else batch.data.nbytes)
            if self.t0_ns is None:
                self.t0_ns = self._clock()
            # Due time of each event: when the units up to and including it have been delivered.
            cumulative = self.units_done + units * np.arange(1, n + 1, dtype=np.float64) / max(n, 1)
            stamps = self.t0_ns + np.round(cumulative * ns_per_unit).astype(np.int64)
            due_ns = int(stamps[-1]) if n else self.t0_ns + int(round(self.units_done * ns_per_unit))
            now = self._clock()
            if now < due_ns:
                self._sleep((due_ns - now) / 1e9)
                now = self._clock()
            behind = max(0, now - due_ns)
            self.behind_last_ns = behind
            self.behind_max_ns = max(self.behind_max_ns, behind)
            self.behind_sum_ns += behind
            self.late_batches += behind > 1_000_000  # more than 1 ms late
            self.units_done += units
            self.events += n
            self.batches += 1
            self.last_emit_ns = now
            yield EventBatch(batch.batch_id, batch.source, batch.row_start, batch.row_stop,
                             restamp(batch.data, stamps), due_ns)

    def summary(self) -> dict[str, Any]:
        """Target and achieved rates, and how far emission fell behind the schedule."""
        span_s = (self.last_emit_ns - self.t0_ns) / 1e9 if self.t0_ns is not None else 0.0
        achieved = self.units_done / span_s if span_s > 0 else 0.0
        per_batch = self.units_done / self.batches if self.batches else 0.0
        return {
            "rate": self.rate.text,
            "unit": f"{self.rate.unit}/s",
            "target_per_s": self.rate.per_s,
            "achieved_per_s": round(achieved, 1),
            "events": self.events,
            "batches": self.batches,
            "batch_fill_ms": round(per_batch / self.rate.per_s * 1e3, 3),
            "behind_max_ms": round(self.behind_max_ns / 1e6, 3),
            "behind_final_ms": round(self.behind_last_ns / 1e6, 3),
            "behind_mean_ms": round(self.behind_sum_ns / self.batches / 1e6, 3) if self.batches else 0.0,
            "late_batches": int(self.late_batches),
        }
