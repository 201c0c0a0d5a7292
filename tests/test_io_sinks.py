import json

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.io.quarantine import QuarantineLog, QuarantineRecord
from trigger.io.sinks import ParquetStreamSink, StreamSinks
from trigger.testing import make_batch


def test_parts_roll_commit_atomically_and_hold_every_row(tmp_path):
    sink = ParquetStreamSink(tmp_path / "Muon", max_rows_per_file=4)
    for i in range(3):
        sink.write(make_batch([{"event": 3 * i + k} for k in range(3)]))
        assert not any(p.suffix == ".parquet" and p.name.endswith(".tmp") for p in (tmp_path / "Muon").iterdir())
    sink.close()
    files = sorted((tmp_path / "Muon").glob("part-*.parquet"))
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet"]
    assert not list((tmp_path / "Muon").glob("*.tmp"))
    events = pq.read_table(files).column("event").to_pylist()
    assert events == list(range(9)) and sink.rows_written == 9


def test_schema_change_rolls_to_a_new_part(tmp_path):
    sink = ParquetStreamSink(tmp_path / "s")
    sink.write(make_batch([{}]))
    sink.write(make_batch([{"process": "zmumu"}]))
    sink.close()
    assert len(sink.files) == 2


def test_stale_tmp_files_from_a_crash_are_removed(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "part-00000.parquet.tmp").write_bytes(b"half")
    ParquetStreamSink(tmp_path / "s").close()
    assert not list((tmp_path / "s").glob("*.tmp"))


def test_stream_sinks_one_directory_per_stream(tmp_path):
    sinks = StreamSinks(tmp_path)
    sinks.write("Muon", make_batch([{}]))
    sinks.write("EGamma", make_batch([{}, {}]))
    sinks.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EGamma", "Muon"]
    assert sinks.bytes_written > 0


def test_quarantine_record_saves_rows_and_a_json_line(tmp_path):
    log = QuarantineLog(tmp_path)
    rows = make_batch([{"event": 7}]).append_column("quarantine_reason", pa.array(["jets.pt: negative"]))
    rec = log.add(QuarantineRecord("in.parquet", "0:128", 128, 256, 1, "jets.pt", "negative", [5]), rows=rows)
    log.close()
    line = json.loads((tmp_path / "quarantine.jsonl").read_text())
    assert line["source"] == "in.parquet" and line["column"] == "jets.pt" and line["n_events"] == 1
    saved = pa.ipc.open_file(str(tmp_path / rec.data_file)).read_all()
    assert saved.column("event").to_pylist() == [7]
    assert "in.parquet, batch 0:128, column jets.pt" in rec.describe()


def test_small_batches_are_buffered_into_full_row_groups(tmp_path):
    # One row group per input batch made thousands of tiny row groups (and a compressor
    # context per column each): the sink must gather them up to row_group_rows.
    sink = ParquetStreamSink(tmp_path / "s", row_group_rows=8)
    for i in range(10):
        sink.write(make_batch([{"event": 3 * i + k} for k in range(3)]))
    sink.close()
    meta = pq.ParquetFile(sink.files[0]).metadata
    assert [meta.row_group(g).num_rows for g in range(meta.num_row_groups)] == [9, 9, 9, 3]
    assert pq.read_table(sink.files[0]).column("event").to_pylist() == list(range(30))


def test_row_group_bytes_bounds_the_buffer(tmp_path):
    batch = make_batch([{"event": k} for k in range(3)])
    sink = ParquetStreamSink(tmp_path / "s", row_group_rows=1_000_000, row_group_bytes=batch.nbytes)
    for _ in range(4):
        sink.write(batch)  # each reaches the byte bound: flushed at once, one row group each
    sink.close()
    assert pq.ParquetFile(sink.files[0]).metadata.num_row_groups == 4
