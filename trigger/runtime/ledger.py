"""The ledger: one record per input batch, proving nothing was lost or counted twice.

``DIR/ledger.jsonl`` holds, for every batch read, its source, row range and the
events in / kept / rejected / quarantined. :meth:`Ledger.verify` checks the
run's invariant: for each batch ``in == kept + rejected + quarantined``, and the
batches of each shard tile its row range exactly once.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trigger.io.batch import Shard

__all__ = ["Ledger", "LedgerRecord", "read_ledger"]


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """The outcome of one input batch.

    Attributes:
        batch_id: ``"<source index>:<row_start>"``.
        source: The input file.
        row_start: First row in the file (inclusive).
        row_stop: Last row in the file (exclusive).
        events_in: Events read.
        kept: Events accepted by at least one path.
        rejected: Valid events no path accepted.
        quarantined: Events set aside as bad input.
        streams: Stream -> events written to it.
        error: Why the batch was refused, if it was.
    """

    batch_id: str
    source: str
    row_start: int
    row_stop: int
    events_in: int
    kept: int
    rejected: int
    quarantined: int
    streams: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def balanced(self) -> bool:
        """True when in == kept + rejected + quarantined and the range matches."""
        return (
            self.events_in == self.kept + self.rejected + self.quarantined
            and self.events_in == self.row_stop - self.row_start
        )


class Ledger:
    """Appends ledger records to ``DIR/ledger.jsonl`` (flushed per record).

    Args:
        out_dir: The run's output directory.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / "ledger.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", encoding="utf-8")
        self.records: list[LedgerRecord] = []

    def append(self, record: LedgerRecord) -> None:
        """Record one batch's outcome."""
        self._fh.write(json.dumps(asdict(record)) + "\n")
        self._fh.flush()
        self.records.append(record)

    def close(self) -> None:
        """Flush to disk and close."""
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()

    @staticmethod
    def verify(records: Iterable[LedgerRecord], shards: Iterable[Shard]) -> list[str]:
        """Check the run's bookkeeping.

        Args:
            records: The ledger records of the run.
            shards: Every shard the run was given.

        Returns:
            Problems found, one line each (empty when all is accounted for).
        """
        problems: list[str] = []
        by_source: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for r in records:
            if not r.balanced:
                problems.append(
                    f"batch {r.batch_id} ({r.source}): in={r.events_in} rows={r.row_stop - r.row_start} "
                    f"but kept+rejected+quarantined={r.kept + r.rejected + r.quarantined}"
                )
            by_source[r.source].append((r.row_start, r.row_stop))
        expected: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for s in shards:
            expected[s.path].append((s.row_start, s.row_stop))
        for source, ranges in expected.items():
            covered = sorted(by_source.pop(source, []))
            cursor = min(a for a, _ in ranges)
            end = max(b for _, b in ranges)
            for a, b in covered:
                if a != cursor:
                    kind = "read twice" if a < cursor else "never read"
                    lo, hi = (a, cursor) if a < cursor else (cursor, a)
                    problems.append(f"{source}: rows {lo}-{hi} {kind}")
                cursor = max(cursor, b)
            if cursor != end:
                problems.append(f"{source}: rows {cursor}-{end} never read")
        for source in by_source:
            problems.append(f"{source}: batches recorded for a file that was not an input")
        return problems


def read_ledger(path: Path) -> list[LedgerRecord]:
    """Load the records of a ledger file."""
    with open(path, encoding="utf-8") as fh:
        return [LedgerRecord(**json.loads(line)) for line in fh if line.strip()]
