"""Shards (row ranges known ahead) and the envelope a batch travels in."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["EventBatch", "Shard"]


@dataclass(frozen=True, slots=True)
class Shard:
    """A disjoint range of rows of one input, known before reading.

    The ledger checks that the shards of a run cover every row of every input
    exactly once, whatever the number of workers.

    Attributes:
        path: The input file.
        format: ``parquet``, ``ipc``, ``ipc-stream`` or ``root``.
        unit: Row group (Parquet), record batch (IPC) or chunk index.
        row_start: First row (inclusive), counted from the start of the file.
        row_stop: Last row (exclusive).
    """

    path: str
    format: str
    unit: int
    row_start: int
    row_stop: int

    @property
    def num_rows(self) -> int:
        """Rows in the shard."""
        return self.row_stop - self.row_start


@dataclass(frozen=True, slots=True)
class EventBatch:
    """One batch of events on its way through a runtime.

    Attributes:
        batch_id: ``"<source index>:<row_start>"``: unique in a run, stable across
            reruns, used to write outputs idempotently.
        source: The input file.
        row_start: First row in the file (inclusive).
        row_stop: Last row in the file (exclusive).
        data: The events.
        emitted_ns: When the source emitted the batch (``time.time_ns()``);
            decision latency is measured from it.
    """

    batch_id: str
    source: str
    row_start: int
    row_stop: int
    data: pa.RecordBatch
    emitted_ns: int

    @property
    def num_rows(self) -> int:
        """Events in the batch."""
        return self.row_stop - self.row_start
