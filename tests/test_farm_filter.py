"""The filter actor class without Ray: results, kept rows to the sink, incidents as the local recorder's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from trigger.cli.replay import load_engine
from trigger.io.batch import EventBatch
from trigger.runtime.ray.filter import FilterActor
from trigger.runtime.ray.messages import BatchMeta
from trigger.runtime.ray.transport import IPC_BELOW_BYTES, pack, unpack
from trigger.runtime.recorder import RunRecorder
from trigger.testing import make_batch


class FakeSink:
    """Records what a filter hands to ``sink.write.remote``."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        outer = self

        class _Write:
            def remote(self, *args: Any) -> str:
                outer.calls.append(args)
                return "ack-ref"

        self.write = _Write()


def batch() -> pa.RecordBatch:
    return make_batch([
        {"event": 1, "muons": [{"pt": 80.0, "iso": 0.05}]},  # a high-pt muon: kept
        {"event": 2, "muons": [{"pt": -3.0}]},  # negative pt: quarantined
        {"event": 3},  # nothing: rejected
    ])


def test_result_matches_the_engine_and_kept_rows_go_to_the_sink(tmp_path: Path) -> None:
    engine, _ = load_engine(None)
    sink = FakeSink()
    actor = FilterActor(7, lambda: load_engine(None)[0], [sink])
    data = batch()
    meta = BatchMeta("0:0", "f.arrow", 0, 3, data.nbytes, 0)
    result = actor.process(meta, pack(data))
    outcome = engine.process(data, batch_id="0:0", source="f.arrow")
    assert (result.n_in, result.n_kept, result.n_rejected, result.n_quarantined) == (3, 1, 1, 1)
    assert result.path_counts.tolist() == outcome.path_counts.tolist()
    assert result.filter_id == 7 and result.ack == "ack-ref" and result.service_s > 0
    batch_id, streams, quarantined = sink.calls[0]
    assert batch_id == "0:0" and {s: unpack(t).num_rows for s, t in streams.items()} == result.streams
    bad = unpack(quarantined)
    assert bad.num_rows == 1 and "quarantine_reason" in bad.column_names
    # The incident is the one the local recorder logs for the same batch.
    rec = RunRecorder(tmp_path, path_names=engine.path_names, menu_name="m")
    local = rec.record(EventBatch("0:0", "f.arrow", 0, 3, data, 0), outcome, decided_ns=1)
    rec.close(shards=[])
    assert result.incident == local[0]


def test_a_sliced_batch_travels_as_its_own_rows_in_either_form(monkeypatch: Any) -> None:
    whole = make_batch([{"event": i, "raw": b"x" * 1000} for i in range(100)], with_raw=True)
    part = whole.slice(10, 20)
    small = pack(part)
    assert isinstance(small, pa.Buffer) and small.size < whole.nbytes / 2  # not the parent buffers
    assert unpack(small).equals(part)
    monkeypatch.setattr("trigger.runtime.ray.transport.IPC_BELOW_BYTES", 0)
    large = pack(part)
    assert isinstance(large, pa.Table) and unpack(large).equals(part)
    assert unpack(pack(part.slice(0, 0))).num_rows == 0
    assert IPC_BELOW_BYTES > 1_000_000


def test_a_file_slice_is_read_by_the_filter_and_an_unreadable_one_is_quarantined(tmp_path: Path) -> None:
    from trigger.io.sources import open_source
    from trigger.runtime.ray.transport import FileSlice, file_slices
    from trigger.testing import write_ipc, write_parquet

    data = batch()
    ipc = write_ipc([data], tmp_path / "f.arrow")
    source = open_source(ipc)
    [shard] = source.shards()
    slices = file_slices(source, shard, batch_size=2)
    assert [(s.offset, s.rows) for s, _ in slices] == [(0, 2), (2, 1)]  # the boundaries source.read makes
    assert [unpack(s).num_rows for s, _ in slices] == [b.num_rows for b in source.read(shard, batch_size=2)]
    assert unpack(slices[1][0]).equals(data.slice(2, 1))
    # Parquet row groups larger than a batch are read by the source (each filter would decode all of it).
    pq_source = open_source(write_parquet([data], tmp_path / "f.parquet"))
    assert file_slices(pq_source, pq_source.shards()[0], batch_size=2) is None
    assert file_slices(pq_source, pq_source.shards()[0], batch_size=3) is not None

    sink = FakeSink()
    actor = FilterActor(1, lambda: load_engine(None)[0], [sink])
    result = actor.process(BatchMeta("0:0", ipc, 0, 2, 0, 0), slices[0][0])
    assert (result.n_in, result.n_kept, result.n_quarantined) == (2, 1, 1)
    gone = FileSlice(str(tmp_path / "moved.arrow"), "ipc", 0, 0, 3)
    lost = actor.process(BatchMeta("1:0", gone.path, 0, 3, 0, 0), gone)
    assert (lost.n_in, lost.n_quarantined, lost.n_kept) == (3, 3, 0) and lost.ack is None
    assert "every node must see the file" in lost.incident.reason and lost.incident.batch_id == "1:0"
