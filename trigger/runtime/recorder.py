"""Everything a run records, whatever the runtime: outputs, ledger, quarantine, summary.

Every runtime (local threads, Ray farm) feeds batch outcomes to one
:class:`RunRecorder`, so the files a run leaves behind (``DIR/<stream>/*.parquet``,
``ledger.jsonl``, ``quarantine.jsonl``, ``summary.json``) are the same whatever
executed it.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from trigger.engine.outcome import BatchOutcome
from trigger.errors import InputError
from trigger.io.batch import EventBatch, Shard
from trigger.io.quarantine import QuarantineLog, QuarantineRecord
from trigger.io.sinks import StreamSinks
from trigger.runtime.latency import LatencyHistogram
from trigger.runtime.ledger import Ledger, LedgerRecord
from trigger.runtime.report import BatchReport, report_of

__all__ = ["RunRecorder", "peak_rss_bytes"]


def peak_rss_bytes() -> int:
    """Peak resident memory of this process, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class RunRecorder:
    """Writes a run's outputs and keeps its counts.

    Args:
        out_dir: The run's output directory (created).
        path_names: The menu's paths, in order.
        menu_name: For the summary.
        max_rows_per_file: Roll stream parts after this many rows.
    """

    def __init__(self, out_dir: Path, *, path_names: tuple[str, ...], menu_name: str, max_rows_per_file: int = 1_000_000) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.path_names = path_names
        self.menu_name = menu_name
        self.sinks = StreamSinks(self.out_dir, max_rows_per_file=max_rows_per_file)
        self.ledger = Ledger(self.out_dir)
        self.quarantine = QuarantineLog(self.out_dir)
        self.latency = LatencyHistogram()
        self.path_counts = np.zeros(len(path_names), dtype=np.int64)
        self.stream_counts: dict[str, int] = {}
        self.events_in = self.kept = self.rejected = self.quarantined = 0
        self.bytes_in = 0
        self.batches = 0
        self.files_failed: list[str] = []
        self._bytes_written_elsewhere = 0
        self._t0 = time.perf_counter()

    def record(self, batch: EventBatch, outcome: BatchOutcome, *, decided_ns: int) -> list[QuarantineRecord]:
        """Write one batch's outputs, then book it (its ledger record is the acknowledgement).

        Returns:
            The quarantine records it produced (to print).
        """
        for stream, kept in outcome.streams.items():
            self.sinks.write(stream, kept)
        return self.record_report(report_of(batch, outcome, decided_ns=decided_ns))

    def record_report(self, report: BatchReport) -> list[QuarantineRecord]:
        """Book one batch whose kept rows are already written: quarantine, ledger, counts, latency.

        Returns:
            The quarantine records it produced (to print).
        """
        incidents = []
        if report.incident is not None:
            incidents.append(self.quarantine.add(report.incident, rows=report.incident_rows))
        rec = LedgerRecord(report.batch_id, report.source, report.row_start, report.row_stop, report.n_in,
                           report.n_kept, report.n_rejected, report.n_quarantined, dict(report.streams), report.error)
        self.ledger.append(rec)
        self._book(rec, report.path_counts)
        self.bytes_in += report.nbytes
        self.latency.add(max(report.decided_ns - report.emitted_ns, 0) / 1e9, weight=report.n_in)
        return incidents

    def _book(self, rec: LedgerRecord, path_counts: np.ndarray | None) -> None:
        """Add one ledger record to the run's totals (``path_counts`` None: not known)."""
        self.events_in += rec.events_in
        self.kept += rec.kept
        self.rejected += rec.rejected
        self.quarantined += rec.quarantined
        if path_counts is not None:
            self.path_counts += path_counts
        for stream, n in rec.streams.items():
            self.stream_counts[stream] = self.stream_counts.get(stream, 0) + n
        self.batches += 1

    def add_bytes_written(self, n_bytes: int) -> None:
        """Count parts that other writers of the run (engine processes) committed."""
        self._bytes_written_elsewhere += n_bytes

    def record_unreadable(self, shard: Shard, *, row_start: int, batch_id: str, error: InputError) -> QuarantineRecord:
        """Quarantine rows of a shard that could not be read (the count is known ahead)."""
        n = shard.row_stop - row_start
        rec = self.quarantine.add(QuarantineRecord(shard.path, batch_id, row_start, shard.row_stop, n,
                                                   error.column, error.reason))
        ledger_rec = LedgerRecord(batch_id, shard.path, row_start, shard.row_stop, n, 0, 0, n, {}, str(error))
        self.ledger.append(ledger_rec)
        self._book(ledger_rec, None)
        return rec

    def record_unopenable(self, path: str, *, error: InputError) -> QuarantineRecord:
        """Quarantine a file that could not be opened at all (its event count is unknown)."""
        self.files_failed.append(path)
        return self.quarantine.add(QuarantineRecord(path, "", 0, 0, 0, error.column, error.reason))

    def close(self, *, shards: list[Shard], extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Commit outputs, verify the ledger and write ``summary.json``.

        Args:
            shards: Every shard the run was given, to prove coverage.
            extra: More summary entries (configuration, runtime details).

        Returns:
            The summary.
        """
        self.sinks.close()
        self.ledger.close()
        self.quarantine.close()
        wall_s = time.perf_counter() - self._t0
        problems = Ledger.verify(self.ledger.records, shards)
        summary: dict[str, Any] = {
            "menu": self.menu_name,
            "events_in": self.events_in,
            "events_kept": self.kept,
            "events_rejected": self.rejected,
            "events_quarantined": self.quarantined,
            "kept_fraction": self.kept / self.events_in if self.events_in else 0.0,
            "paths": {p: int(c) for p, c in zip(self.path_names, self.path_counts)},
            "streams": dict(sorted(self.stream_counts.items())),
            "batches": self.batches,
            "wall_s": round(wall_s, 3),
            "throughput_events_per_s": round(self.events_in / wall_s, 1) if wall_s else 0.0,
            "throughput_mb_per_s": round(self.bytes_in / wall_s / 1e6, 2) if wall_s else 0.0,
            "bytes_in": self.bytes_in,
            "bytes_written": self.sinks.bytes_written + self._bytes_written_elsewhere,
            "latency_ms": self.latency.summary_ms(),
            "peak_rss_bytes": peak_rss_bytes(),
            "files_failed": self.files_failed,
            "quarantine": [r.describe() for r in self.quarantine.records[:50]],
            "ledger_ok": not problems,
            "ledger_problems": problems[:50],
            "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()},
        }
        summary.update(extra or {})
        tmp = self.out_dir / "summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.out_dir / "summary.json")
        return summary
