"""What a decided batch leaves for the run's books once its kept rows are written.

Every runtime turns an engine outcome into one :class:`BatchReport`: the counts,
the path counts, the quarantine incident and the timing of a batch, without
its kept rows (a sink, an engine process or a sink actor wrote those). The
:class:`~trigger.runtime.recorder.RunRecorder` books reports, so a threaded
replay, a replay over engine processes and the farm count, log and quarantine
the same way. A report is small and picklable: it crosses process boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trigger.engine.outcome import BatchOutcome
from trigger.io.batch import EventBatch
from trigger.io.quarantine import QuarantineRecord

__all__ = ["BatchReport", "incident_of", "report_of"]


@dataclass(frozen=True, slots=True)
class BatchReport:
    """One decided batch, as the recorder books it.

    Attributes:
        batch_id: ``"<source index>:<row_start>"``.
        source: The input file.
        row_start: First row in the file (inclusive).
        row_stop: Last row in the file (exclusive).
        nbytes: Size of the events in memory.
        emitted_ns: When the batch was read (or due, in paced replay).
        decided_ns: When its decisions were made.
        n_in: Events in.
        n_kept: Events accepted by at least one path.
        n_rejected: Valid events no path accepted.
        n_quarantined: Events set aside as bad input.
        path_counts: Accepted events per path (menu order).
        streams: Stream -> kept events written to it.
        error: Why the whole batch was refused, if it was.
        incident: The quarantine record to log, if any.
        incident_rows: The bad rows to save with the incident (the whole batch when refused).
    """

    batch_id: str
    source: str
    row_start: int
    row_stop: int
    nbytes: int
    emitted_ns: int
    decided_ns: int
    n_in: int
    n_kept: int
    n_rejected: int
    n_quarantined: int
    path_counts: np.ndarray
    streams: dict[str, int]
    error: str | None = None
    incident: QuarantineRecord | None = None
    incident_rows: pa.RecordBatch | None = None


def incident_of(batch_id: str, source: str, row_start: int, row_stop: int,
                outcome: BatchOutcome) -> QuarantineRecord | None:
    """The quarantine record of an outcome: the refusal, or its bad rows with every reason.

    Args:
        batch_id: The batch.
        source: Its input file.
        row_start: First row in the file.
        row_stop: Last row (exclusive).
        outcome: What the engine returned.

    Returns:
        The record; None when nothing was quarantined.
    """
    if outcome.error is not None:
        err = outcome.error
        return QuarantineRecord(source, batch_id, row_start, row_stop, outcome.n_quarantined,
                                getattr(err, "column", None), getattr(err, "reason", str(err)))
    if not outcome.n_quarantined:
        return None
    first = outcome.violations[0]
    reason = "; ".join(f"{v.column}: {v.reason} ({len(v.rows)} events)" for v in outcome.violations)
    rows = sorted({int(r) for v in outcome.violations for r in v.rows[:20]})[:20]
    return QuarantineRecord(source, batch_id, row_start, row_stop, outcome.n_quarantined, first.column, reason, rows)


def report_of(batch: EventBatch, outcome: BatchOutcome, *, decided_ns: int) -> BatchReport:
    """The report of a batch whose kept rows (``outcome.streams``) are being written by the caller.

    Args:
        batch: The batch as read.
        outcome: What the engine returned for it.
        decided_ns: When the decisions were made (``time.time_ns()``).

    Returns:
        The report; a refused batch carries its whole data as the incident's rows.
    """
    incident = incident_of(batch.batch_id, batch.source, batch.row_start, batch.row_stop, outcome)
    rows = batch.data if outcome.error is not None else outcome.quarantined
    return BatchReport(
        batch.batch_id, batch.source, batch.row_start, batch.row_stop, batch.data.nbytes, batch.emitted_ns,
        decided_ns, outcome.n_in, outcome.n_kept, outcome.n_rejected, outcome.n_quarantined, outcome.path_counts,
        {s: b.num_rows for s, b in outcome.streams.items()},
        None if outcome.error is None else str(outcome.error),
        incident, rows if incident is not None else None,
    )
