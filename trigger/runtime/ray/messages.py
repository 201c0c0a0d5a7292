"""The small records that travel on the control plane of the farm.

Event data never travels in these: a batch goes from its source actor to a
filter actor as an object-store reference, and its kept rows from the filter
to a sink actor. What the driver sees are these records: counts, path counts,
timings and quarantine incidents, a few hundred bytes per batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trigger.io.quarantine import QuarantineRecord

__all__ = ["BACKFILL", "LIVE", "BatchMeta", "FilterResult", "SourceReport", "Unreadable", "safe_name"]

LIVE = "live"
BACKFILL = "backfill"


def safe_name(batch_id: str) -> str:
    """A batch id as a file name (the same rule the quarantine log uses)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", batch_id)


@dataclass(frozen=True, slots=True)
class BatchMeta:
    """What is known about a batch before it is decided.

    Attributes:
        batch_id: ``"<source index>:<row_start>"`` (backfill: ``"b<index>:<row_start>"``).
        source: The input file.
        row_start: First row in the file (inclusive).
        row_stop: Last row in the file (exclusive).
        nbytes: Size of the events in memory.
        emitted_ns: When the source read it (``time.time_ns()``), or in paced
            replay when it was due (decision latency is measured from it).
        priority: ``"live"`` or ``"backfill"``.
        attempt: 1 for the first dispatch, +1 for each re-dispatch.
    """

    batch_id: str
    source: str
    row_start: int
    row_stop: int
    nbytes: int
    emitted_ns: int
    priority: str = LIVE
    attempt: int = 1

    @property
    def num_rows(self) -> int:
        """Events in the batch."""
        return self.row_stop - self.row_start


@dataclass(frozen=True, slots=True)
class FilterResult:
    """What a filter actor reports for one batch (its kept rows went to a sink).

    Attributes:
        batch_id: The batch.
        filter_id: The actor that decided it.
        n_in: Events in.
        n_kept: Events accepted by at least one path.
        n_rejected: Valid events no path accepted.
        n_quarantined: Events set aside as bad input.
        path_counts: Accepted events per path (menu order).
        streams: Stream -> kept events written to it.
        error: Why the whole batch was refused, if it was.
        incident: The quarantine record to log, if any (its rows went to the sink).
        decided_ns: When the decision was made (``time.time_ns()``).
        service_s: Seconds the engine spent on the batch.
        ack: Reference that resolves when the sink has committed the outputs
            (None when there is nothing to write).
    """

    batch_id: str
    filter_id: int
    n_in: int
    n_kept: int
    n_rejected: int
    n_quarantined: int
    path_counts: np.ndarray
    streams: dict[str, int]
    error: str | None
    incident: QuarantineRecord | None
    decided_ns: int
    service_s: float
    ack: Any = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Rows of a shard that could not be read (counted as quarantined).

    Attributes:
        path: The file.
        format: Its format.
        unit: The shard's unit (row group, record batch).
        row_start: First unread row.
        row_stop: End of the shard.
        batch_id: Id the first unread batch would have had.
        column: Column concerned, if any.
        reason: What failed.
        priority: ``"live"`` or ``"backfill"``.
    """

    path: str
    format: str
    unit: int
    row_start: int
    row_stop: int
    batch_id: str
    column: str | None
    reason: str
    priority: str = LIVE


@dataclass(slots=True)
class SourceReport:
    """What a source actor hands the driver at each poll.

    Attributes:
        done: Every batch of the source is acknowledged (or quarantined).
        completed: ``(meta, result)`` of batches acknowledged since the last poll.
        unreadable: Unreadable shard tails since the last poll.
        dead_filters: Filter ids whose actor died under this source.
        in_flight: Filter id -> batches in flight there from this source.
        deadtime_s: Total seconds live dispatch waited for credit.
        emitted_events: Live events emitted so far.
        redispatched: Batches sent again after their filter or sink died.
        failure: A bug (not bad input) that stops the run, as text.
        pacing: The pacing summary (paced replay, once done).
        offered_events_per_s: The live rate the schedule asks for now (paced
            replay; 0 once the live files are done), None when unpaced.
    """

    done: bool = False
    completed: list[tuple[BatchMeta, FilterResult]] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)
    dead_filters: list[int] = field(default_factory=list)
    in_flight: dict[int, int] = field(default_factory=dict)
    deadtime_s: float = 0.0
    emitted_events: int = 0
    redispatched: int = 0
    failure: str | None = None
    pacing: dict[str, Any] | None = None
    offered_events_per_s: float | None = None
