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
        self._t0 = time.perf_counter()

    def record(self, batch: EventBatch, outcome: BatchOutcome, *, decided_ns: int) -> list[QuarantineRecord]:
        """Write one batch's outputs, then its ledger record (the acknowledgement).

        Returns:
            The quarantine records it produced (to print).
        """
        for stream, kept in outcome.streams.items():
            self.sinks.write(stream, kept)
            self.stream_counts[stream] = self.stream_counts.get(stream, 0) + kept.num_rows
        incidents = []
        if outcome.error is not None:
            err = outcome.error
            incidents.append(self.quarantine.add(
                QuarantineRecord(batch.source, batch.batch_id, batch.row_start, batch.row_stop, outcome.n_quarantined,
                                 getattr(err, "column", None), getattr(err, "reason", str(err))),
                rows=batch.data,
            ))
        elif outcome.n_quarantined:
            first = outcome.violations[0]
            reason = "; ".join(f"{v.column}: {v.reason} ({len(v.rows)} events)" for v in outcome.violations)
            rows = sorted({int(r) for v in outcome.violations for r in v.rows[:20]})[:20]
            incidents.append(self.quarantine.add(
                QuarantineRecord(batch.source, batch.batch_id, batch.row_start, batch.row_stop,
                                 outcome.n_quarantined, first.column, reason, rows),
                rows=outcome.quarantined,
            ))
        self.ledger.append(LedgerRecord(
            batch.batch_id, batch.source, batch.row_start, batch.row_stop, outcome.n_in, outcome.n_kept,
            outcome.n_rejected, outcome.n_quarantined,
            {s: b.num_rows for s, b in outcome.streams.items()},
            None if outcome.error is None else str(outcome.error),
        ))
        self.events_in += outcome.n_in
        self.kept += outcome.n_kept
        self.rejected += outcome.n_rejected
        self.quarantined += outcome.n_quarantined
        self.path_counts += outcome.path_counts
        self.bytes_in += batch.data.nbytes
        self.batches += 1
        self.latency.add(max(decided_ns - batch.emitted_ns, 0) / 1e9, weight=outcome.n_in)
        return incidents

    def record_unreadable(self, shard: Shard, *, row_start: int, batch_id: str, error: InputError) -> QuarantineRecord:
        """Quarantine rows of a shard that could not be read (the count is known ahead)."""
        n = shard.row_stop - row_start
        rec = self.quarantine.add(QuarantineRecord(shard.path, batch_id, row_start, shard.row_stop, n,
                                                   error.column, error.reason))
        self.ledger.append(LedgerRecord(batch_id, shard.path, row_start, shard.row_stop, n, 0, 0, n, {}, str(error)))
        self.events_in += n
        self.quarantined += n
        self.batches += 1
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
            "bytes_written": self.sinks.bytes_written,
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
