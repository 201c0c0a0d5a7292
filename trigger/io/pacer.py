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

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.errors import ConfigError
from trigger.io.batch import EventBatch

__all__ = ["Pacer", "Rate", "parse_rate", "restamp"]


def restamp(data: pa.RecordBatch, stamps: np.ndarray) -> pa.RecordBatch:
    """The batch with ``timestamp_ns`` replaced by ``stamps`` (unchanged without that column)."""
    idx = data.schema.get_field_index("timestamp_ns")
    if idx < 0:
        return data
    columns = list(data.columns)
    columns[idx] = pa.array(stamps, type=data.schema.field(idx).type)
    return pa.RecordBatch.from_arrays(columns, schema=data.schema)

_EVENT_UNITS = {"": 1.0, "hz": 1.0, "khz": 1e3, "mhz": 1e6, "ghz": 1e9, "k": 1e3, "m": 1e6}
_BYTE_UNITS = {"b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
               "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40}
_NUMBER = re.compile(r"^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)([a-z]*)$")


@dataclass(frozen=True, slots=True)
class Rate:
    """A replay rate.

    Attributes:
        per_s: Units per second.
        unit: ``events`` or ``bytes``.
        text: As the user wrote it.
    """

    per_s: float
    unit: str
    text: str


def parse_rate(text: str) -> Rate:
    """Parse ``100kHz``, ``5000``, ``2.5e5/s``, ``1M`` (events/s) or ``2GB/s``, ``500MiB/s`` (bytes/s).

    Raises:
        ConfigError: If the text is not a positive rate, with examples.
    """
    examples = "e.g. 100kHz, 5000 (events/s), 2GB/s or 500MiB/s (bytes/s)"
    compact = "".join(str(text).split()).lower()
    per_second = compact.endswith("/s")
    compact = compact.removesuffix("/s")
    for word in ("events", "event", "evt", "ev"):  # "5k events/s" is an event rate
        if compact.endswith(word):
            compact = compact.removesuffix(word)
            break
    m = _NUMBER.match(compact)
    if not m:
        raise ConfigError(f"rate {text!r}: expected a number and a unit, {examples}")
    value, unit = float(m.group(1)), m.group(2)
    if unit in _BYTE_UNITS:
        if not per_second:
            raise ConfigError(f"rate {text!r}: a byte rate needs '/s' ({m.group(2).upper()}/s); {examples}")
        per_s, kind = value * _BYTE_UNITS[unit], "bytes"
    elif unit in _EVENT_UNITS:
        per_s, kind = value * _EVENT_UNITS[unit], "events"
    else:
        raise ConfigError(f"rate {text!r}: unknown unit {m.group(2)!r}; {examples}")
    if not np.isfinite(per_s) or per_s <= 0:
        raise ConfigError(f"rate {text!r}: must be above 0; {examples}")
    return Rate(per_s, kind, str(text).strip())


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
