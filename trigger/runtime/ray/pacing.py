"""Paced replay in a source actor: the local pacer's schedule, with load steps, for asyncio.

Same rules as :mod:`trigger.io.pacer` (the local runtime's): event ``j`` is due
when the units (events or bytes) up to and including it have been delivered at
the rate; a batch leaves when its last event is due; every event's
``timestamp_ns`` is restamped with its due time and the batch's ``emitted_ns``
is its scheduled emission, so decision latency is measured from the schedule
and includes any lateness (a farm that falls behind shows it). Differences:
the waiting is left to the caller (an ``await``, not a blocking sleep), and the
rate may change at given times after the start (load steps), the schedule
continuing from where it was.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trigger.io.pacer import Rate, restamp  # restamp: re-exported for the source actor

__all__ = ["Schedule", "merge_summaries", "restamp"]


class Schedule:
    """When each batch of a paced source is due.

    Args:
        steps: ``(t_s, rate)`` pairs in time order: ``rate`` (this source's
            share) applies from ``t_s`` seconds after the first batch on.
    """

    def __init__(self, steps: list[tuple[float, Rate]]) -> None:
        self.steps = sorted(steps, key=lambda s: s[0])
        self.t0_ns: int | None = None
        self.due_ns = 0.0
        self.units_done = 0.0
        self.events = self.batches = self.late_batches = 0
        self.behind_max_ns = self.behind_last_ns = self.behind_sum_ns = 0
        self.last_emit_ns = 0

    @property
    def unit(self) -> str:
        """``events`` or ``bytes``: what the rates count (one unit per schedule)."""
        return self.steps[0][1].unit

    def rate_at(self, t_s: float) -> Rate:
        """The rate in force ``t_s`` seconds after the start."""
        current = self.steps[0][1]
        for start_s, rate in self.steps:
            if t_s >= start_s:
                current = rate
        return current

    def offered_events_per_s(self, now_ns: int) -> float:
        """The rate in force now, in events/s (a byte rate converted at the mean event size so far)."""
        if self.t0_ns is None:
            return 0.0
        rate = self.rate_at((now_ns - self.t0_ns) / 1e9)
        if rate.unit == "events":
            return rate.per_s
        return rate.per_s * self.events / self.units_done if self.units_done else 0.0

    def plan(self, n_events: int, nbytes: int, now_ns: int) -> tuple[np.ndarray, int]:
        """Due times of the events of the next batch.

        Returns:
            ``(stamps, due_ns)``: each event's due time and the batch's (its last event's).
        """
        if self.t0_ns is None:
            self.t0_ns = now_ns
            self.due_ns = float(now_ns)
        rate = self.rate_at((self.due_ns - self.t0_ns) / 1e9)
        units = float(n_events if rate.unit == "events" else nbytes)
        ns_per_unit = 1e9 / rate.per_s
        offsets = units * np.arange(1, n_events + 1, dtype=np.float64) / max(n_events, 1) * ns_per_unit
        stamps = np.round(self.due_ns + offsets).astype(np.int64)
        self.due_ns += units * ns_per_unit
        self.units_done += units
        return stamps, round(self.due_ns)

    def emitted(self, due_ns: int, now_ns: int, n_events: int) -> None:
        """Record that a batch due at ``due_ns`` left at ``now_ns``."""
        behind = max(0, now_ns - due_ns)
        self.behind_last_ns = behind
        self.behind_max_ns = max(self.behind_max_ns, behind)
        self.behind_sum_ns += behind
        self.late_batches += behind > 1_000_000  # more than 1 ms late, as the local pacer counts
        self.events += n_events
        self.batches += 1
        self.last_emit_ns = max(now_ns, due_ns)

    def summary(self) -> dict[str, Any]:
        """The local pacer's summary keys (rates of the last step)."""
        rate = self.steps[-1][1]
        span_s = (self.last_emit_ns - self.t0_ns) / 1e9 if self.t0_ns is not None else 0.0
        return {
            "rate": rate.text,
            "unit": f"{rate.unit}/s",
            "target_per_s": rate.per_s,
            "achieved_per_s": round(self.units_done / span_s, 1) if span_s > 0 else 0.0,
            "events": self.events,
            "batches": self.batches,
            "batch_fill_ms": round(self.units_done / max(self.batches, 1) / rate.per_s * 1e3, 3),
            "behind_max_ms": round(self.behind_max_ns / 1e6, 3),
            "behind_final_ms": round(self.behind_last_ns / 1e6, 3),
            "behind_mean_ms": round(self.behind_sum_ns / self.batches / 1e6, 3) if self.batches else 0.0,
            "late_batches": int(self.late_batches),
        }


def merge_summaries(parts: list[dict[str, Any]], *, rate_text: str) -> dict[str, Any]:
    """One pacing summary for the whole farm from each source's (rates add up)."""
    if len(parts) == 1:
        return {**parts[0], "rate": rate_text}
    batches = sum(p["batches"] for p in parts)
    return {
        "rate": rate_text,
        "unit": parts[0]["unit"],
        "target_per_s": sum(p["target_per_s"] for p in parts),
        "achieved_per_s": round(sum(p["achieved_per_s"] for p in parts), 1),
        "events": sum(p["events"] for p in parts),
        "batches": batches,
        "batch_fill_ms": max(p["batch_fill_ms"] for p in parts),
        "behind_max_ms": max(p["behind_max_ms"] for p in parts),
        "behind_final_ms": max(p["behind_final_ms"] for p in parts),
        "behind_mean_ms": round(sum(p["behind_mean_ms"] * p["batches"] for p in parts) / max(batches, 1), 3),
        "late_batches": sum(p["late_batches"] for p in parts),
    }
