"""The quarantine record: bad input set aside with the reason, never dropped silently.

``DIR/quarantine.jsonl`` has one line per incident (a refused file, shard or
batch, or the bad rows of a batch) naming the file, batch, row range, column
and reason. The offending rows themselves are kept in
``DIR/quarantine/<batch>.arrow`` (Arrow IPC, with a ``quarantine_reason``
column) so they can be inspected and replayed once fixed.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

__all__ = ["QuarantineLog", "QuarantineRecord"]


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """One quarantine incident.

    Attributes:
        source: The input file.
        batch_id: Batch identifier ('' when the whole file was refused).
        row_start: First row concerned in the file.
        row_stop: Last row concerned (exclusive).
        n_events: Events quarantined (0 when unknown: an unreadable file).
        column: Column or branch concerned, if any.
        reason: What was wrong and what was expected.
        rows: Up to 20 row indices (within the batch) of bad events.
        data_file: Where the bad rows were saved, if they could be.
    """

    source: str
    batch_id: str
    row_start: int
    row_stop: int
    n_events: int
    column: str | None
    reason: str
    rows: list[int] = field(default_factory=list)
    data_file: str | None = None

    def describe(self) -> str:
        """A one-line message for the terminal."""
        where = f"{self.source}" + (f", batch {self.batch_id}" if self.batch_id else "")
        col = f", column {self.column}" if self.column else ""
        rows = f", rows {self.rows[:5]}{'…' if len(self.rows) > 5 else ''}" if self.rows else ""
        return f"{where}{col}{rows}: {self.reason} ({self.n_events} events quarantined)"


class QuarantineLog:
    """Appends quarantine records and saves bad rows.

    Args:
        out_dir: The run's output directory.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "quarantine.jsonl"
        self.records: list[QuarantineRecord] = []
        self._fh = None

    def add(self, record: QuarantineRecord, *, rows: pa.RecordBatch | None = None) -> QuarantineRecord:
        """Record an incident, saving ``rows`` (the bad events) when given."""
        if rows is not None and rows.num_rows:
            qdir = self.out_dir / "quarantine"
            qdir.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", record.batch_id or Path(record.source).name) + ".arrow"
            target = qdir / name
            with pa.OSFile(str(target), "wb") as sink, pa.ipc.new_file(sink, rows.schema) as writer:
                writer.write_batch(rows)
            record = QuarantineRecord(**{**asdict(record), "data_file": str(target.relative_to(self.out_dir))})
        if self._fh is None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(asdict(record)) + "\n")
        self._fh.flush()
        self.records.append(record)
        return record

    @property
    def n_events(self) -> int:
        """Events quarantined so far."""
        return sum(r.n_events for r in self.records)

    def close(self) -> None:
        """Close the record file."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
