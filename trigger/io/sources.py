"""Columnar sources: Parquet (by row group) and Arrow IPC files and streams (memory-mapped).

A source lists its shards (disjoint row ranges known before reading) and reads
one shard as record batches of at most ``batch_size`` rows. IPC is read through
a memory map: batches are zero-copy views of the file's pages, so the ``raw``
payload is never copied while reading.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import InputError
from trigger.io.batch import Shard

__all__ = ["IpcFileSource", "IpcStreamSource", "ParquetSource", "Source", "detect_format", "open_source"]


def detect_format(path: str) -> str:
    """Tell a file's format from its first bytes (not its name).

    Returns:
        ``parquet``, ``ipc``, ``ipc-stream`` or ``root``.

    Raises:
        InputError: If the file cannot be opened, is empty, or is none of these.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise InputError(f"cannot open: {err.strerror}", source=path) from err
    if not head:
        raise InputError("file is empty (0 bytes); expected Parquet, Arrow IPC or ROOT", source=path)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:6] == b"ARROW1":
        return "ipc"
    if head[:4] == b"\xff\xff\xff\xff":
        return "ipc-stream"
    if head[:4] == b"root":
        return "root"
    raise InputError(
        f"unknown file format (first bytes {head[:8]!r}); expected Parquet (PAR1), "
        "Arrow IPC (ARROW1 or a stream) or ROOT",
        source=path,
    )


class Source(ABC):
    """One input file, read shard by shard.

    Args:
        path: The file.
    """

    format: str = ""

    def __init__(self, path: str) -> None:
        self.path = path

    @abstractmethod
    def shards(self) -> list[Shard]:
        """Disjoint row ranges covering the file, in order.

        Raises:
            InputError: If the file's metadata cannot be read.
        """

    @abstractmethod
    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Yield the rows of ``shard`` in order, ``batch_size`` rows at most per batch.

        Raises:
            InputError: If the shard cannot be read (names file and shard).
        """

    def _fail(self, shard: Shard, err: Exception) -> InputError:
        kind = {"parquet": "row group", "ipc": "record batch"}.get(self.format, "chunk")
        return InputError(
            f"cannot read {kind} {shard.unit} (rows {shard.row_start}-{shard.row_stop}): {err}",
            source=self.path,
            batch=f"{kind} {shard.unit}",
        )


class ParquetSource(Source):
    """A Parquet file, streamed one row group at a time."""

    format = "parquet"

    def _file(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path, memory_map=True)
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"not a readable Parquet file: {err}", source=self.path) from err

    def shards(self) -> list[Shard]:
        meta = self._file().metadata
        out, start = [], 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            out.append(Shard(self.path, self.format, i, start, start + n))
            start += n
        return out

    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        try:
            yield from self._file().iter_batches(batch_size=batch_size, row_groups=[shard.unit], use_threads=False)
        except (OSError, pa.ArrowException) as err:
            raise self._fail(shard, err) from err


class IpcFileSource(Source):
    """An Arrow IPC (Feather v2) file, memory-mapped: batches are zero-copy views."""

    format = "ipc"

    def _reader(self) -> pa.ipc.RecordBatchFileReader:
        try:
            return pa.ipc.open_file(pa.memory_map(self.path, "r"))
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"not a readable Arrow IPC file: {err}", source=self.path) from err

    def shards(self) -> list[Shard]:
        reader = self._reader()
        out, start = [], 0
        try:
            for i in range(reader.num_record_batches):
                n = reader.get_batch(i).num_rows  # reads metadata only; data stays mapped
                out.append(Shard(self.path, self.format, i, start, start + n))
                start += n
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"cannot read record batch {len(out)} metadata: {err}", source=self.path) from err
        return out

    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        try:
            whole = self._reader().get_batch(shard.unit)
        except (OSError, pa.ArrowException) as err:
            raise self._fail(shard, err) from err
        for offset in range(0, whole.num_rows, batch_size):
            yield whole.slice(offset, batch_size)


class IpcStreamSource(Source):
    """An Arrow IPC stream file, memory-mapped; one shard per record batch.

    A stream has no footer, so listing shards walks the batch headers once
    (cheap: the bodies stay mapped, unread).
    """

    format = "ipc-stream"

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            yield from pa.ipc.open_stream(pa.memory_map(self.path, "r"))
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"not a readable Arrow IPC stream: {err}", source=self.path) from err

    def shards(self) -> list[Shard]:
        out, start = [], 0
        for i, batch in enumerate(self._batches()):
            out.append(Shard(self.path, self.format, i, start, start + batch.num_rows))
            start += batch.num_rows
        return out

    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(self._batches()):
            if i == shard.unit:
                for offset in range(0, batch.num_rows, batch_size):
                    yield batch.slice(offset, batch_size)
                return
        raise self._fail(shard, IndexError("stream ended early"))


_BY_FORMAT: dict[str, type[Source]] = {
    "parquet": ParquetSource,
    "ipc": IpcFileSource,
    "ipc-stream": IpcStreamSource,
}


def open_source(path: str | Path) -> Source:
    """Open a file as a source, by its content.

    Raises:
        InputError: If the format is unknown or unsupported here (ROOT files
            need a mapping: see :mod:`trigger.io.root`).
    """
    path = str(path)
    fmt = detect_format(path)
    try:
        return _BY_FORMAT[fmt](path)
    except KeyError:
        raise InputError(
            f"{fmt} files need a mapping onto the event model; pass --mapping", source=path
        ) from None
