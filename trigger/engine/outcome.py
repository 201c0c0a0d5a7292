"""What the engine returns for one batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from trigger.schema import Violation

__all__ = ["BatchOutcome"]


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """Decisions and outputs for one input batch.

    Invariant: ``n_in == n_kept + n_rejected + n_quarantined``.

    Attributes:
        batch_id: Identifier of the input batch (unique within a run).
        n_in: Events in the batch.
        n_kept: Events accepted by at least one path.
        n_rejected: Valid events no path accepted.
        n_quarantined: Events set aside as bad input.
        path_counts: Accepted events per path (menu order), after prescale.
        streams: Stream name -> kept rows of that stream with ``pass_<path>``
            columns appended (streams with no kept rows are absent).
        quarantined: The bad rows with a ``quarantine_reason`` column, or None.
        violations: What made rows bad, grouped by column and reason.
        error: Set when the whole batch was refused (wrong schema).
    """

    batch_id: str
    n_in: int
    n_kept: int
    n_rejected: int
    n_quarantined: int
    path_counts: np.ndarray
    streams: dict[str, pa.RecordBatch] = field(default_factory=dict)
    quarantined: pa.RecordBatch | None = None
    violations: tuple[Violation, ...] = ()
    error: Exception | None = None
