"""The driver's bookkeeping: the local :class:`RunRecorder`, fed with result records only.

The farm leaves the same files as the local runtime (``ledger.jsonl``,
``quarantine.jsonl``, ``summary.json``, ``DIR/<stream>/*.parquet``) with the
same summary keys, because it *is* the local recorder: only ``record`` is
different, taking the small :class:`FilterResult` of a batch whose outputs a
sink actor already committed, instead of the batch itself.

Resume: a restarted driver reads the ledger it finds (a torn last line is
ignored), writes those records back and skips their batch ids; per-path counts,
which the ledger does not hold, come from ``DIR/.farm/journal.jsonl`` (one line
per batch, written just before its ledger record). A record lost between the
sink's commit and the ledger only makes the batch run again, and the sink
acknowledges it without writing: its journal has the batch id
(:mod:`trigger.runtime.ray.sink_journal`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from trigger.io.quarantine import QuarantineRecord
from trigger.runtime.latency import LatencyHistogram
from trigger.runtime.ledger import LedgerRecord
from trigger.runtime.ray.messages import BACKFILL, BatchMeta, FilterResult, Unreadable
from trigger.runtime.ray.sink_journal import GROUP_GLOB
from trigger.runtime.recorder import RunRecorder

__all__ = ["FarmRecorder", "read_ledger_tolerant"]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line torn by a crash: that batch runs again
    return out


def read_ledger_tolerant(out_dir: Path) -> list[LedgerRecord]:
    """The records of ``DIR/ledger.jsonl``, skipping torn lines (empty if absent)."""
    return [LedgerRecord(**d) for d in _read_jsonl(Path(out_dir) / "ledger.jsonl")]


class _WrittenBytes:
    """Stands in for the local stream sinks: sink actors wrote the files; count them."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir

    def close(self) -> None:
        """Nothing to commit here: sinks commit each file themselves."""

    @property
    def bytes_written(self) -> int:
        return sum(p.stat().st_size for p in self.out_dir.glob(GROUP_GLOB))


class FarmRecorder(RunRecorder):
    """A :class:`RunRecorder` fed with filter results.

    Args:
        out_dir: The run's output directory.
        path_names: The menu's paths, in order.
        menu_name: For the summary.
        resume: Keep (and skip) the batches already in the ledger.
    """

    def __init__(self, out_dir: Path, *, path_names: tuple[str, ...], menu_name: str, resume: bool) -> None:
        out_dir = Path(out_dir)
        prior = read_ledger_tolerant(out_dir) if resume else []
        journal_path = out_dir / ".farm" / "journal.jsonl"
        prior_paths = {d["batch_id"]: d["path_counts"] for d in _read_jsonl(journal_path)} if resume else {}
        super().__init__(out_dir, path_names=path_names, menu_name=menu_name)
        self.sinks = _WrittenBytes(out_dir)  # type: ignore[assignment]
        journal_path.parent.mkdir(parents=True, exist_ok=True)
        self._journal = open(journal_path, "a" if resume else "w", encoding="utf-8")
        self.done: dict[str, tuple[int, int]] = {}
        self.duplicates_ignored = 0
        self.backfill = {"events_in": 0, "events_kept": 0, "batches": 0}
        self.backfill_latency = LatencyHistogram()
        self.resumed_batches = 0
        self.clock_start = time.perf_counter()
        for rec in prior:
            if rec.batch_id in self.done:
                continue
            counts = prior_paths.get(rec.batch_id)
            self._count(rec, np.asarray(counts if counts is not None else np.zeros(len(path_names)), dtype=np.int64))
            self.ledger.append(rec)
            self.resumed_batches += 1

    def restart_clock(self) -> None:
        """Measure wall time (and throughput) from now: the farm is set up and starts reading."""
        self._t0 = self.clock_start = time.perf_counter()

    def _count(self, rec: LedgerRecord, path_counts: np.ndarray) -> None:
        self.done[rec.batch_id] = (rec.row_start, rec.row_stop)
        # A journal of another menu (resume) has other path counts: the totals still add up.
        self._book(rec, path_counts if path_counts.size == self.path_counts.size else None)

    def record_result(self, meta: BatchMeta, result: FilterResult) -> list[QuarantineRecord]:
        """Account for one acknowledged batch (its outputs are committed).

        Returns:
            The quarantine records it produced (to print); empty for a duplicate.
        """
        if meta.batch_id in self.done:
            self.duplicates_ignored += 1  # a batch delivered twice is counted once
            return []
        incidents = [self.quarantine.add(result.incident)] if result.incident is not None else []
        rec = LedgerRecord(meta.batch_id, meta.source, meta.row_start, meta.row_stop, result.n_in, result.n_kept,
                           result.n_rejected, result.n_quarantined, dict(result.streams), result.error)
        counts = np.asarray(result.path_counts, dtype=np.int64)
        self._journal.write(json.dumps({"batch_id": meta.batch_id, "path_counts": counts.tolist()}) + "\n")
        self._journal.flush()
        self.ledger.append(rec)  # the acknowledgement
        self._count(rec, counts)
        self.bytes_in += meta.nbytes
        hist = self.latency
        if meta.priority == BACKFILL:
            hist = self.backfill_latency
            self.backfill["events_in"] += result.n_in
            self.backfill["events_kept"] += result.n_kept
            self.backfill["batches"] += 1
        latency_s, weights = self.latencies(meta, result)
        hist.add(latency_s, weight=weights)
        return incidents

    @staticmethod
    def latencies(meta: BatchMeta, result: FilterResult) -> tuple[np.ndarray, np.ndarray]:
        """Decision latency of a batch (seconds) and its weight (its events), as the local recorder counts it.

        Measured from ``emitted_ns``: when the batch was read, or in paced replay
        when its last event was due (so lateness of a farm behind schedule counts).
        """
        return np.array([max(result.decided_ns - meta.emitted_ns, 0) / 1e9]), np.array([max(result.n_in, 0)])

    def record_unreadable_tail(self, u: Unreadable) -> QuarantineRecord:
        """Quarantine the unread rows of a shard (as :meth:`record_unreadable`)."""
        from trigger.errors import InputError
        from trigger.io.batch import Shard

        if u.batch_id in self.done:
            self.duplicates_ignored += 1
            return QuarantineRecord(u.path, u.batch_id, u.row_start, u.row_stop, 0, u.column, u.reason)
        shard = Shard(u.path, u.format, u.unit, u.row_start, u.row_stop)
        rec = self.record_unreadable(shard, row_start=u.row_start, batch_id=u.batch_id,
                                     error=InputError(u.reason, source=u.path, column=u.column))
        self.done[u.batch_id] = (u.row_start, u.row_stop)
        return rec

    def close(self, *, shards: list[Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Close the journal, then write the summary as the local recorder does."""
        self._journal.close()
        return super().close(shards=shards, extra=extra)
