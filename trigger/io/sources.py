"""Columnar sources: Parquet (by row group) and Arrow IPC files and streams (memory-mapped).

A source lists its shards (disjoint row ranges known before reading) and reads
one shard as record batches of at most ``batch_size`` rows. IPC is read through
a memory map: batches are zero-copy views of the file's pages, so the ``raw``
payload is never copied while reading.

:func:`open_source` also opens ROOT files (:mod:`trigger.io.root`) and files in
other layouts through a mapping onto the event model (:mod:`trigger.io.mapping`),
given or chosen automatically among the shipped ones; the choice is stated in
the source's ``notes``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.errors import InputError
from trigger.io.batch import Shard

if TYPE_CHECKING:
    from trigger.io.mapping import EventMapping

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
        #: Things the user should be told about this input (mapping chosen, rows deduplicated).
        self.notes: list[str] = []

    def schema(self) -> pa.Schema:
        """The Arrow schema of the file's columns (before any mapping).

        Raises:
            InputError: If the file's metadata cannot be read.
        """
        raise NotImplementedError(f"{type(self).__name__} has no Arrow schema")

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

    def schema(self) -> pa.Schema:
        """The file's Arrow schema (from the footer)."""
        return self._file().schema_arrow

    def shards(self) -> list[Shard]:
        meta = self._file().metadata
        out, start = [], 0
        for i in range(meta.num_row_groups):
            n = meta.row_group(i).num_rows
            out.append(Shard(self.path, self.format, i, start, start + n))
            start += n
        return out

    def read(self, shard: Shard, *, batch_size: int, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Yield the rows of one row group (only ``columns`` when given)."""
        try:
            yield from self._file().iter_batches(batch_size=batch_size, row_groups=[shard.unit], use_threads=False,
                                                 columns=None if columns is None else list(columns))
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

    def schema(self) -> pa.Schema:
        """The file's Arrow schema."""
        return self._reader().schema

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

    def schema(self) -> pa.Schema:
        """The stream's Arrow schema (from its first message)."""
        try:
            return pa.ipc.open_stream(pa.memory_map(self.path, "r")).schema
        except (OSError, pa.ArrowException) as err:
            raise InputError(f"not a readable Arrow IPC stream: {err}", source=self.path) from err

    def shards(self) -> list[Shard]:
        out, start = [], 0
        for i, batch in enumerate(self._batches()):
            out.append(Shard(self.path, self.format, i, start, start + batch.num_rows))
            start += batch.num_rows
        return out

    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        # Shards are usually read in order: keep the open reader and continue from
        # it (linear in the file), reopening only to go backwards. A stream has no
        # index, and dictionary batches make seeking to a message unsafe.
        state = getattr(self, "_cursor", None)
        if state is None or state[1] > shard.unit:
            state = (self._batches(), 0)
        batches, unit = state
        for batch in batches:
            unit += 1
            if unit - 1 == shard.unit:
                self._cursor = (batches, unit)
                for offset in range(0, batch.num_rows, batch_size):
                    yield batch.slice(offset, batch_size)
                return
        self._cursor = None
        raise self._fail(shard, IndexError("stream ended early"))

    def __getstate__(self) -> dict[str, object]:
        # The open reader stays behind when the source is shipped to another process.
        return {k: v for k, v in self.__dict__.items() if k != "_cursor"}


_BY_FORMAT: dict[str, type[Source]] = {
    "parquet": ParquetSource,
    "ipc": IpcFileSource,
    "ipc-stream": IpcStreamSource,
}


def open_source(path: str | Path, *, mapping: EventMapping | str | Path | None = None) -> Source:
    """Open a file as a source, by its content.

    Args:
        path: The file (Parquet, Arrow IPC file or stream, ROOT).
        mapping: A mapping (or a shipped mapping's name, or a YAML path) onto the
            event model, applied to every batch. None: ROOT files get the shipped
            mapping that fits them; Parquet/IPC files that do not follow the event
            model get a fitting shipped mapping if one exists (the choice is added
            to the source's ``notes``), else are read as they are.

    Raises:
        InputError: If the format is unknown, or a ROOT file fits no mapping.
        ConfigError: If ``mapping`` names no mapping.
    """
    path = str(path)
    fmt = detect_format(path)
    if mapping is not None and not isinstance(mapping, (str, Path)):
        chosen: EventMapping | None = mapping
    else:
        from trigger.io.mapping import load_mapping

        chosen = None if mapping is None else load_mapping(mapping)
    if fmt == "root":
        from trigger.io.root import open_root

        return open_root(path, mapping=chosen)
    source = _BY_FORMAT[fmt](path)
    from trigger.io.mapping import ArrowMappedSource, choose_for_arrow

    if chosen is not None:
        return ArrowMappedSource(source, mapping=chosen, note=f"mapping {chosen.name} (given)")
    auto = choose_for_arrow(source)
    if auto is None:
        return source
    return ArrowMappedSource(source, mapping=auto[0], note=auto[1])
