import pyarrow as pa
import pytest

from trigger.errors import InputError
from trigger.io.files import expand_inputs
from trigger.io.sources import (
    IpcFileSource,
    IpcStreamSource,
    ParquetSource,
    detect_format,
    open_source,
)
from trigger.testing import make_batch, write_ipc, write_parquet


def _batches(n_batches=3, rows=5):
    return [make_batch([{"event": b * rows + i, "raw": bytes([i]) * 100} for i in range(rows)], with_raw=True)
            for b in range(n_batches)]


@pytest.mark.parametrize("kind", ["parquet", "ipc", "ipc-stream"])
def test_shards_tile_the_file_and_read_returns_every_row_once(tmp_path, kind):
    batches = _batches()
    path = tmp_path / "f.data"
    if kind == "parquet":
        write_parquet(batches, path)
    else:
        write_ipc(batches, path, stream=kind == "ipc-stream")
    source = open_source(path)
    assert source.format == kind == detect_format(str(path))
    shards = source.shards()
    assert [(s.row_start, s.row_stop) for s in shards] == [(0, 5), (5, 10), (10, 15)]
    events = []
    for shard in shards:
        got = list(source.read(shard, batch_size=2))
        assert [b.num_rows for b in got] == [2, 2, 1]
        events += [e for b in got for e in b.column("event").to_pylist()]
    assert events == list(range(15))


def test_ipc_read_is_zero_copy_from_the_memory_map(tmp_path):
    path = write_ipc(_batches(1, 50), tmp_path / "f.arrow")
    source = IpcFileSource(str(path))
    before = pa.total_allocated_bytes()
    batch = next(source.read(source.shards()[0], batch_size=50))
    # the raw payload (5,000 bytes) stays in the mapped file: nothing was allocated for it
    assert pa.total_allocated_bytes() - before < 1000
    assert batch.column("raw")[3].as_py() == bytes([3]) * 100


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "file is empty"), (b"hello world, not data", "unknown file format"), (b"PAR1garbage", "not a readable Parquet")],
)
def test_unreadable_files_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.parquet"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        open_source(path).shards()
    assert info.value.source == str(path)


def test_truncated_ipc_file_is_refused_with_its_name(tmp_path):
    path = write_ipc(_batches(), tmp_path / "f.arrow")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as info:
        IpcFileSource(str(path)).shards()
    assert str(path) in str(info.value)


def test_corrupt_parquet_row_group_fails_on_read_naming_the_row_group(tmp_path):
    path = write_parquet(_batches(), tmp_path / "f.parquet")
    source = ParquetSource(str(path))
    shards = source.shards()
    meta = source._file().metadata.row_group(1).column(0)
    data = bytearray(path.read_bytes())
    start = meta.data_page_offset
    data[start:start + 64] = b"\x00" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="row group 1"):
        list(source.read(shards[1], batch_size=100))


def test_ipc_stream_source_refuses_missing_batch(tmp_path):
    path = write_ipc(_batches(1), tmp_path / "s.arrows", stream=True)
    source = IpcStreamSource(str(path))
    bogus = source.shards()[0].__class__(str(path), "ipc-stream", 7, 0, 5)
    with pytest.raises(InputError, match="stream ended early"):
        list(source.read(bogus, batch_size=5))


def test_expand_inputs_dedupes_expands_dirs_and_globs_and_reports_missing(tmp_path):
    a = write_parquet(_batches(1), tmp_path / "a.parquet")
    b = write_ipc(_batches(1), tmp_path / "b.arrow")
    (tmp_path / "notes.txt").write_text("x")
    out = expand_inputs([str(a), str(tmp_path), str(tmp_path / "*.arrow"), str(tmp_path / "nope.parquet")])
    assert out.files == [str(a), str(b)]
    assert sorted(out.duplicates) == sorted([str(a), str(b)])
    assert len(out.missing) == 1 and "nope.parquet" in str(out.missing[0])


def test_ipc_stream_with_dictionaries_reads_in_any_shard_order(tmp_path):
    from trigger.io.generator import GeneratorConfig, generate_batches

    batches = list(generate_batches(3000, config=GeneratorConfig(seed=4), batch_size=1000))
    path = write_ipc(batches, tmp_path / "d.arrows", stream=True)
    source = IpcStreamSource(str(path))
    shards = source.shards()
    for shard in [shards[0], shards[1], shards[2], shards[1], shards[0]]:
        got = pa.Table.from_batches(list(source.read(shard, batch_size=4096)))
        assert got.equals(pa.Table.from_batches([batches[shard.unit]]))
