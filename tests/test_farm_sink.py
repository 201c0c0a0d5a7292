"""The farm's sink: group commit, exactly once by batch id, atomic files (the actor class, without Ray)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.runtime.ray.sink import SinkActor, clean_stale_tmp
from trigger.runtime.ray.sink_journal import (
    JournalWriter,
    journal_path,
    load_journals,
    reset_group_outputs,
)
from trigger.runtime.ray.transport import pack


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"event": pa.array(range(start, start + n), pa.uint64())})


def packed(t: pa.Table) -> Any:
    return pack(t.to_batches()[0] if t.num_rows else pa.RecordBatch.from_pylist([], schema=t.schema))


def files(root: Path, pattern: str = "*/group-*.parquet") -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.glob(pattern))


async def write_all(sink: SinkActor, batches: list[tuple[str, dict[str, pa.Table]]]) -> list[dict[str, int]]:
    """Write batches concurrently, in this order of arrival (as a sink actor receives them)."""
    tasks = []
    for batch_id, streams in batches:
        tasks.append(asyncio.ensure_future(sink.write(batch_id, {s: packed(t) for s, t in streams.items()}, None)))
        await asyncio.sleep(0)  # let it reach the sink before the next one
    return list(await asyncio.gather(*tasks))


def test_a_group_of_batches_becomes_one_file_per_stream_in_arrival_order(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path), max_group_batches=3)
    batches = [("0:20", {"Muon": table(2, 20), "EGamma": table(1, 20)}), ("0:0", {"Muon": table(3, 0)}),
               ("0:10", {"Muon": table(1, 10)})]
    sizes = asyncio.run(write_all(sink, batches))
    assert files(tmp_path) == ["EGamma/group-0-000000.parquet", "Muon/group-0-000000.parquet"]
    muon = pq.read_table(tmp_path / "Muon" / "group-0-000000.parquet")
    assert muon.column("event").to_pylist() == [20, 21, 0, 1, 2, 10]  # arrival order, not batch-id order
    meta = muon.schema.metadata
    assert json.loads(meta[b"trigger.batch_ids"]) == ["0:20", "0:0", "0:10"]
    assert json.loads(meta[b"trigger.batch_rows"]) == [2, 3, 1]
    assert sizes[0] == {s: (tmp_path / s / "group-0-000000.parquet").stat().st_size for s in ("Muon", "EGamma")}
    assert load_journals(tmp_path).batch_ids == {"0:20": "0-0", "0:0": "0-0", "0:10": "0-0"}


def test_the_batch_count_bound_commits_and_starts_the_next_group(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path), max_group_batches=2, max_group_delay_s=60)
    asyncio.run(write_all(sink, [(f"0:{i}", {"Muon": table(1, i)}) for i in range(4)]))  # no timer could fire
    assert files(tmp_path) == ["Muon/group-0-000000.parquet", "Muon/group-0-000001.parquet"]
    assert pq.read_table(tmp_path / "Muon" / "group-0-000001.parquet").column("event").to_pylist() == [2, 3]


def test_the_row_bound_commits_a_group_before_the_batch_count(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path), max_group_batches=8, max_group_rows=5, max_group_delay_s=60)
    asyncio.run(write_all(sink, [("0:0", {"Muon": table(3)}), ("0:3", {"Muon": table(3, 3)})]))
    assert files(tmp_path) == ["Muon/group-0-000000.parquet"]


def test_the_timer_commits_a_group_that_does_not_fill(tmp_path: Path) -> None:
    # One batch can be in flight (credits=1): its group must commit although no second batch comes.
    sink = SinkActor(str(tmp_path), max_group_batches=4, max_group_delay_s=0.05)
    sizes = asyncio.run(asyncio.wait_for(sink.write("0:0", {"Muon": packed(table(2))}, None), timeout=10))
    assert set(sizes) == {"Muon"} and files(tmp_path) == ["Muon/group-0-000000.parquet"]


def test_a_group_commits_when_batches_stop_coming_long_before_the_delay_bound(tmp_path: Path) -> None:
    # The last group of a run: two batches came back to back, then none; waiting max_group_delay_s (here
    # a minute) would hold their credits and the end of the run that long.
    sink = SinkActor(str(tmp_path), max_group_batches=4, max_group_delay_s=60)
    batches = [("0:0", {"Muon": table(1)}), ("0:1", {"Muon": table(1, 1)})]
    asyncio.run(asyncio.wait_for(write_all(sink, batches), timeout=10))
    assert files(tmp_path) == ["Muon/group-0-000000.parquet"]


def test_flush_commits_the_open_group(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path), max_group_batches=4, max_group_delay_s=60)

    async def run() -> dict[str, int]:
        waiting = asyncio.ensure_future(sink.write("0:0", {"Muon": packed(table(2))}, None))
        await asyncio.sleep(0.01)
        assert not waiting.done() and not files(tmp_path)  # acknowledged only once committed
        stats = await sink.flush()
        await asyncio.wait_for(waiting, timeout=10)
        return stats

    stats = asyncio.run(run())
    assert stats["writes"] == 1 and stats["groups"] == 1 and files(tmp_path) == ["Muon/group-0-000000.parquet"]


def test_a_duplicate_batch_id_is_ignored_whether_pending_or_committed(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path), max_group_batches=2, max_group_delay_s=60)
    # The second write of 0:0 arrives while the first waits in the open group (a re-dispatch).
    asyncio.run(write_all(sink, [("0:0", {"Muon": table(2)}), ("0:0", {"Muon": table(2)}),
                                 ("0:2", {"Muon": table(1, 2)})]))
    again = asyncio.run(sink.write("0:0", {"Muon": packed(table(2))}, None))  # after its commit
    assert again == {}
    assert pq.read_table(tmp_path / "Muon" / "group-0-000000.parquet").column("event").to_pylist() == [0, 1, 2]
    assert files(tmp_path) == ["Muon/group-0-000000.parquet"]
    assert sink.duplicates_ignored == 2


def test_a_new_sink_over_the_same_directory_skips_what_the_journal_holds(tmp_path: Path) -> None:
    # A restarted sink actor, or a resumed driver with a different number of sinks.
    asyncio.run(write_all(SinkActor(str(tmp_path), sink_index=1, max_group_batches=1),
                          [("0:0", {"Muon": table(2)})]))
    fresh = SinkActor(str(tmp_path), sink_index=0, max_group_batches=1)
    assert asyncio.run(fresh.write("0:0", {"Muon": packed(table(2))}, None)) == {}
    asyncio.run(write_all(fresh, [("0:2", {"Muon": table(1, 2)})]))
    assert files(tmp_path) == ["Muon/group-0-000000.parquet", "Muon/group-1-000000.parquet"]
    # Sink 1 again: it numbers its files after the ones it journaled.
    again = SinkActor(str(tmp_path), sink_index=1, max_group_batches=1)
    asyncio.run(write_all(again, [("1:0", {"Muon": table(1, 9)})]))
    assert "Muon/group-1-000001.parquet" in files(tmp_path)


def test_group_files_without_a_journal_line_are_removed_at_start(tmp_path: Path) -> None:
    asyncio.run(write_all(SinkActor(str(tmp_path), max_group_batches=1), [("0:0", {"Muon": table(2)})]))
    # A crash between rename and journal line leaves a committed-looking file of unacknowledged batches.
    orphan = tmp_path / "Muon" / "group-0-000001.parquet"
    pq.write_table(table(1, 7), orphan)
    other = tmp_path / "Muon" / "group-1-000000.parquet"  # another live sink's: not ours to judge
    pq.write_table(table(1, 8), other)
    SinkActor(str(tmp_path), sink_index=0)
    assert not orphan.exists() and other.exists()
    assert (tmp_path / "Muon" / "group-0-000000.parquet").exists()


def test_a_torn_journal_line_counts_as_absent_and_does_not_hide_the_next(tmp_path: Path) -> None:
    path = journal_path(tmp_path, 0)
    path.parent.mkdir(parents=True)
    path.write_text('{"group":"0-0","batch_ids":["0:0"],"files":{}}\n{"group":"0-1","batch_i')
    writer = JournalWriter(path)
    writer.append({"group": "0-2", "batch_ids": ["0:9"], "files": {}})
    writer.close()
    assert load_journals(tmp_path).batch_ids == {"0:0": "0-0", "0:9": "0-2"}


def test_a_fresh_run_forgets_a_previous_runs_groups(tmp_path: Path) -> None:
    asyncio.run(write_all(SinkActor(str(tmp_path), max_group_batches=1), [("0:0", {"Muon": table(2)})]))
    assert reset_group_outputs(tmp_path) == 2  # the file and the journal
    sink = SinkActor(str(tmp_path), max_group_batches=1)
    assert set(asyncio.run(sink.write("0:0", {"Muon": packed(table(2))}, None))) == {"Muon"}


def test_a_stream_whose_schema_changes_starts_a_new_group(tmp_path: Path) -> None:
    # A file has one schema (as the local sinks' parts): e.g. IPC inputs with a raw payload, Parquet without.
    wide = table(1, 5).append_column("raw", pa.array([b"x"], pa.large_binary()))
    sink = SinkActor(str(tmp_path), max_group_batches=4, max_group_delay_s=0.05)
    asyncio.run(write_all(sink, [("0:0", {"Muon": table(2)}), ("1:0", {"Muon": wide})]))
    assert files(tmp_path) == ["Muon/group-0-000000.parquet", "Muon/group-0-000001.parquet"]


def test_quarantined_rows_go_where_the_local_log_puts_them(tmp_path: Path) -> None:
    bad = table(2).append_column("quarantine_reason", pa.array(["pt: negative", "pt: negative"]))
    sizes = asyncio.run(SinkActor(str(tmp_path)).write("b1:20", {}, packed(bad)))
    target = tmp_path / "quarantine" / "b1_20.arrow"
    assert sizes == {"quarantine": target.stat().st_size}
    assert pa.ipc.open_file(str(target)).read_all().equals(bad)


def test_a_crashed_write_leaves_only_a_tmp_file_that_the_next_run_removes(tmp_path: Path) -> None:
    (tmp_path / "Muon").mkdir()
    stale = tmp_path / "Muon" / ".group-0-000000.parquet.abc123.tmp"
    stale.write_bytes(b"half a file")
    kept = tmp_path / "Muon" / "group-0-000001.parquet"
    pq.write_table(table(1), kept)
    assert clean_stale_tmp(tmp_path) == 1
    assert not stale.exists() and kept.exists()


def test_kept_events_are_encoded_like_the_local_sinks(tmp_path: Path) -> None:
    # Dictionary-encoding float columns and statistics on every column doubled the sink's CPU per batch.
    t = pa.table({"event": pa.array(range(50), pa.uint64()), "met_pt": pa.array([float(i % 3) for i in range(50)])})
    asyncio.run(write_all(SinkActor(str(tmp_path), max_group_batches=1), [("0:0", {"Muon": t})]))
    meta = pq.ParquetFile(tmp_path / "Muon" / "group-0-000000.parquet").metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for e in cols["met_pt"].encodings)
    assert cols["met_pt"].statistics is None and cols["event"].statistics is not None
    assert pq.ParquetFile(tmp_path / "Muon" / "group-0-000000.parquet").metadata.row_group(0).column(0).compression \
        == "ZSTD"



def test_paced_sinks_commit_on_idle_cpu_only(tmp_path: Path) -> None:
    import os
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("SCHED_IDLE is Linux's")
    policy = {}
    for yield_to_filters in (True, False):
        sink = SinkActor(str(tmp_path / str(yield_to_filters)), yield_to_filters=yield_to_filters)
        policy[yield_to_filters] = sink.executor.submit(os.sched_getscheduler, 0).result()
        sink.executor.shutdown()
    assert policy == {True: os.SCHED_IDLE, False: os.SCHED_OTHER}
