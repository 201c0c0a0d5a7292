"""How a batch travels through the object store: packed by its source, unpacked zero-copy by a filter.

Two forms, chosen by size (measured on this 2-core machine, ``ray.put`` of
slices of a generated file with a 256-byte ``raw`` payload):

- small batches (< :data:`IPC_BELOW_BYTES`) as one Arrow IPC stream message in a
  ``pa.Buffer``: the buffer is written once and ``ray.put`` copies it as a single
  out-of-band block (0.9-1.2 ms for 2,000 events, against 2.8-5.9 ms for a table,
  whose reducer walks every child array of the nested collections in Python);
- large batches as a one-chunk ``pa.Table``, which Ray serializes with
  buffer-level slicing straight into the object store: one copy of the ``raw``
  payload instead of two, where that copy is what costs.

(A sliced ``pa.RecordBatch`` is never put as such: its pickle carries the whole
parent buffers, four times the data for a quarter of a file's batch.)
On the filter's side both forms are read without a copy.

A third form does not carry the events at all: a :class:`FileSlice` says where
a batch lies in a file every node reads at the same path (one machine, or a
shared volume), and the filter reads it there (file transport; in a replay paced
at an event rate the slice carries the events' due times and the filter restamps them).
The source then neither decodes nor copies: 20 ms of its CPU per 65,536-event
batch (IPC) that the filters on the same cores need. Only for files read as they
are (Arrow IPC record batches, sliced zero-copy; Parquet row groups of at most
one batch, decoded by the filter instead of the source).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import InputError
from trigger.io.pacer import restamp
from trigger.io.batch import Shard
from trigger.io.sources import IpcFileSource, ParquetSource, Source

__all__ = ["IPC_BELOW_BYTES", "FileSlice", "file_slices", "pack", "unpack"]

#: Batches smaller than this travel as an IPC message.
IPC_BELOW_BYTES = 8 * 2**20


def pack(batch: pa.RecordBatch) -> pa.Buffer | pa.Table:
    """The object to ``ray.put`` for ``batch`` (only its rows, whatever it is a slice of)."""
    if batch.nbytes >= IPC_BELOW_BYTES:
        return pa.Table.from_batches([batch])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


@dataclass(frozen=True, slots=True, eq=False)
class FileSlice:
    """Where a batch lies in a file: ``rows`` rows from ``offset`` of record batch / row group ``unit``.

    Attributes:
        path: The file (the same path on every node).
        format: ``ipc`` or ``parquet``.
        unit: Record batch (IPC) or row group (Parquet).
        offset: First row within the unit.
        rows: Rows in the batch.
        stamps: Paced replay: each event's due time, written into ``timestamp_ns``
            by the reader (as the source does to a batch it reads).
    """

    path: str
    format: str
    unit: int
    offset: int
    rows: int
    stamps: np.ndarray | None = None

    def read(self) -> pa.RecordBatch:
        """The rows (IPC: a zero-copy view of the memory-mapped file).

        Raises:
            InputError: The file or the unit cannot be read (names both).
        """
        try:
            handle = _open(self.path, self.format)
            if self.format == "ipc":
                batch = handle.get_batch(self.unit).slice(self.offset, self.rows)
            else:
                parts = list(handle.iter_batches(batch_size=self.offset + self.rows, row_groups=[self.unit],
                                                 use_threads=False))
                batch = parts[0] if len(parts) == 1 else pa.concat_batches(parts)
                batch = batch.slice(self.offset, self.rows)
        except (OSError, pa.ArrowException, IndexError) as err:
            kind = "record batch" if self.format == "ipc" else "row group"
            raise InputError(f"cannot read {kind} {self.unit} (rows {self.offset}-{self.offset + self.rows} of it): "
                             f"{err}; with --transport file every node must see the file at this path",
                             source=self.path, batch=f"{kind} {self.unit}") from err
        if batch.num_rows != self.rows:
            raise InputError(f"expected {self.rows} rows at {self.offset} of unit {self.unit}, found "
                             f"{batch.num_rows}: the file changed since the run started", source=self.path)
        return batch if self.stamps is None else restamp(batch, self.stamps)


_OPEN: OrderedDict[tuple[str, str], Any] = OrderedDict()
_OPEN_MAX = 16  # files a filter keeps open (memory maps): a replay reads a few at a time


_OPEN_LOCK = threading.Lock()  # a source's live and backfill pumps list slices in threads


def _open(path: str, fmt: str) -> Any:
    key = (path, fmt)
    with _OPEN_LOCK:
        handle = _OPEN.get(key)
        if handle is not None:
            _OPEN.move_to_end(key)
            return handle
        if fmt == "ipc":
            handle = pa.ipc.open_file(pa.memory_map(path, "r"))
        elif fmt == "parquet":
            handle = pq.ParquetFile(path, memory_map=True)
        else:
            raise OSError(f"format {fmt!r} cannot be read by file slice")
        _OPEN[key] = handle
        while len(_OPEN) > _OPEN_MAX:
            _OPEN.popitem(last=False)
        return handle


def file_slices(source: Source, shard: Shard, *, batch_size: int) -> list[tuple[FileSlice, int]] | None:
    """The batches of ``shard`` as file slices with their estimated in-memory bytes, or None.

    None when the source cannot be read by slice: a mapped or ROOT input (its rows
    are transformed on reading), an IPC stream (no index), or a Parquet row group
    larger than one batch (each filter would decode all of it). The slices follow
    :meth:`~trigger.io.sources.Source.read`'s batch boundaries (``batch_size`` rows
    from the shard's start), so batch ids are those of the object-store path.
    """
    # The same open files as the readers (cached): reopening the file per shard cost the source ~0.8 ms.
    if type(source) is IpcFileSource:
        nbytes = _open(source.path, "ipc").get_batch(shard.unit).nbytes
    elif type(source) is ParquetSource and shard.num_rows <= batch_size:
        nbytes = _open(source.path, "parquet").metadata.row_group(shard.unit).total_byte_size
    else:
        return None
    out = []
    for offset in range(0, shard.num_rows, batch_size):
        rows = min(batch_size, shard.num_rows - offset)
        out.append((FileSlice(source.path, source.format, shard.unit, offset, rows),
                    nbytes * rows // max(shard.num_rows, 1)))
    return out


def unpack(obj: pa.Buffer | pa.Table | FileSlice) -> pa.RecordBatch:
    """The record batch a packed object holds (zero-copy), or a file slice reads.

    Raises:
        InputError: A file slice cannot be read.
    """
    if isinstance(obj, FileSlice):
        return obj.read()
    if isinstance(obj, pa.Buffer):
        reader = pa.ipc.open_stream(obj)
        batch = reader.read_next_batch()
        return batch
    chunks = obj.to_batches()
    if len(chunks) == 1:
        return chunks[0]
    if not chunks:
        return pa.RecordBatch.from_pylist([], schema=obj.schema)
    return pa.concat_batches(chunks)
