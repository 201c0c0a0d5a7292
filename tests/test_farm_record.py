"""The farm driver's recorder: ledger and journal from result records, resume after a crash (no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trigger.io.batch import Shard
from trigger.runtime.ledger import read_ledger
from trigger.runtime.ray.messages import BatchMeta, FilterResult, Unreadable
from trigger.runtime.ray.record import FarmRecorder

PATHS = ("A", "B")


def result(batch_id: str, n: int, kept: int, counts: list[int]) -> FilterResult:
    return FilterResult(batch_id, 0, n, kept, n - kept, 0, np.array(counts), {"S": kept} if kept else {}, None, None,
                        decided_ns=2_000_000, service_s=0.001)


def meta(batch_id: str, start: int, n: int) -> BatchMeta:
    return BatchMeta(batch_id, "f.arrow", start, start + n, 100 * n, emitted_ns=1_000_000)


def test_results_become_ledger_records_and_the_summary_balances(tmp_path: Path) -> None:
    rec = FarmRecorder(tmp_path, path_names=PATHS, menu_name="m", resume=False)
    rec.record_result(meta("0:0", 0, 10), result("0:0", 10, 3, [3, 1]))
    rec.record_result(meta("0:10", 10, 10), result("0:10", 10, 0, [0, 0]))
    assert rec.record_result(meta("0:10", 10, 10), result("0:10", 10, 0, [0, 0])) == []  # delivered twice
    rec.record_unreadable_tail(Unreadable("f.arrow", "ipc", 1, 20, 30, "0:20", None, "truncated"))
    summary = rec.close(shards=[Shard("f.arrow", "ipc", 0, 0, 20), Shard("f.arrow", "ipc", 1, 20, 30)])
    assert summary["ledger_ok"], summary["ledger_problems"]
    assert (summary["events_in"], summary["events_kept"], summary["events_quarantined"]) == (30, 3, 10)
    assert summary["paths"] == {"A": 3, "B": 1} and summary["streams"] == {"S": 3}
    assert rec.duplicates_ignored == 1
    assert summary["latency_ms"]["max"] == 1.0  # decided 1 ms after it was emitted
    assert [r.batch_id for r in read_ledger(tmp_path / "ledger.jsonl")] == ["0:0", "0:10", "0:20"]


def test_a_restarted_driver_keeps_the_ledger_and_skips_its_batches(tmp_path: Path) -> None:
    crashed = FarmRecorder(tmp_path, path_names=PATHS, menu_name="m", resume=False)
    crashed.record_result(meta("0:0", 0, 10), result("0:0", 10, 3, [3, 1]))
    crashed.record_result(meta("0:10", 10, 10), result("0:10", 10, 2, [0, 2]))
    with open(tmp_path / "ledger.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"batch_id": "0:20", "sour')  # torn by the crash: that batch runs again
    resumed = FarmRecorder(tmp_path, path_names=PATHS, menu_name="m", resume=True)
    assert resumed.resumed_batches == 2 and resumed.done == {"0:0": (0, 10), "0:10": (10, 20)}
    assert resumed.record_result(meta("0:10", 10, 10), result("0:10", 10, 2, [0, 2])) == []
    resumed.record_result(meta("0:20", 20, 10), result("0:20", 10, 1, [1, 0]))
    summary = resumed.close(shards=[Shard("f.arrow", "ipc", 0, 0, 30)])
    assert summary["ledger_ok"] and summary["events_in"] == 30
    assert summary["paths"] == {"A": 4, "B": 3}  # path counts of the first run come from the journal
    assert len(read_ledger(tmp_path / "ledger.jsonl")) == 3


def test_a_fresh_run_starts_a_new_ledger(tmp_path: Path) -> None:
    first = FarmRecorder(tmp_path, path_names=PATHS, menu_name="m", resume=False)
    first.record_result(meta("0:0", 0, 10), result("0:0", 10, 3, [3, 1]))
    first.close(shards=[])
    again = FarmRecorder(tmp_path, path_names=PATHS, menu_name="m", resume=False)
    assert again.resumed_batches == 0 and not again.done
