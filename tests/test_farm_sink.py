"""The farm's sink: idempotent writes by batch id, atomic commits (the actor class, without Ray)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.runtime.ray.sink import SinkActor, clean_stale_tmp, stream_file
from trigger.runtime.ray.transport import pack


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"event": pa.array(range(start, start + n), pa.uint64())})


def packed(t: pa.Table) -> object:
    return pack(t.to_batches()[0] if t.num_rows else pa.RecordBatch.from_pylist([], schema=t.schema))


def test_writing_a_batch_twice_leaves_one_file_with_the_same_events(tmp_path: Path) -> None:
    sink = SinkActor(str(tmp_path))
    first = sink.write("0:4096", {"Muon": packed(table(5)), "EGamma": packed(table(2))}, None)
    again = SinkActor(str(tmp_path)).write("0:4096", {"Muon": packed(table(5))}, None)  # a retry after a failure
    assert set(first) == {"Muon", "EGamma"} and again["Muon"] == first["Muon"]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["EGamma/batch-0_4096.parquet", "Muon/batch-0_4096.parquet"]
    assert pq.read_table(stream_file(tmp_path, "Muon", "0:4096")).equals(table(5))


def test_quarantined_rows_go_where_the_local_log_puts_them(tmp_path: Path) -> None:
    bad = table(2).append_column("quarantine_reason", pa.array(["pt: negative", "pt: negative"]))
    sizes = SinkActor(str(tmp_path)).write("b1:20", {}, packed(bad))
    target = tmp_path / "quarantine" / "b1_20.arrow"
    assert sizes == {"quarantine": target.stat().st_size}
    assert pa.ipc.open_file(str(target)).read_all().equals(bad)


def test_a_crashed_write_leaves_only_a_tmp_file_that_the_next_run_removes(tmp_path: Path) -> None:
    (tmp_path / "Muon").mkdir()
    stale = tmp_path / "Muon" / ".batch-0_0.parquet.abc123.tmp"
    stale.write_bytes(b"half a file")
    kept = tmp_path / "Muon" / "batch-0_0.parquet"
    pq.write_table(table(1), kept)
    assert clean_stale_tmp(tmp_path) == 1
    assert not stale.exists() and kept.exists()


def test_kept_events_are_encoded_like_the_local_sinks(tmp_path: Path) -> None:
    # Dictionary-encoding float columns and statistics on every column doubled the sink's CPU per batch.
    t = pa.table({"event": pa.array(range(50), pa.uint64()), "met_pt": pa.array([float(i % 3) for i in range(50)])})
    SinkActor(str(tmp_path)).write("0:0", {"Muon": packed(t)}, None)
    meta = pq.ParquetFile(stream_file(tmp_path, "Muon", "0:0")).metadata.row_group(0)
    cols = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert not any("DICTIONARY" in e for e in cols["met_pt"].encodings)
    assert cols["met_pt"].statistics is None and cols["event"].statistics is not None
