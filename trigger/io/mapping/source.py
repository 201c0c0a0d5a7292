"""Sources whose rows are mapped onto the event model (ROOT always; Parquet/IPC on request).

:class:`MappedSource` turns a file's raw chunks (TTree entry ranges, Parquet
row groups, IPC record batches) into event-model batches through a bound
mapping. Its shards are known before reading: one per raw chunk. When the
mapping deduplicates (several rows per event), the shards count *events*: a
first pass reads only the key branches (a few bytes per row) to count the
distinct events of each chunk, so the ledger still proves that every event was
read exactly once, whatever the number of workers.

Dedup rule: a row is dropped when its keys equal the previous row's (the
layout of files that store several candidates per event one after another).
Repeats that are not consecutive are not detected.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from trigger.errors import InputError
from trigger.io.batch import Shard
from trigger.io.mapping.bind import BoundMapping, bind_mapping
from trigger.io.mapping.build import apply_mapping
from trigger.io.mapping.columns import (
    BranchType,
    Column,
    columns_from_arrow,
    types_from_arrow,
)
from trigger.io.mapping.model import EventMapping
from trigger.io.sources import ParquetSource, Source

__all__ = ["ArrowMappedSource", "MappedSource", "first_of_runs"]

#: Rows per read in the dedup counting pass (key branches only).
_KEY_SCAN_ROWS = 1 << 20


def first_of_runs(keys: Sequence[np.ndarray], *, previous: tuple[object, ...] | None) -> np.ndarray:
    """Mask of the rows that start a new event: keys differ from the previous row's.

    Args:
        keys: One array per key branch, same length.
        previous: The keys of the row just before the first one (None at a file's start).

    Returns:
        Boolean keep mask.
    """
    n = len(keys[0])
    keep = np.ones(n, dtype=bool)
    if n == 0:
        return keep
    same = np.ones(n - 1, dtype=bool)
    for k in keys:
        same &= k[1:] == k[:-1]
    keep[1:] = ~same
    if previous is not None:
        keep[0] = any(k[0] != p for k, p in zip(keys, previous))
    return keep


@dataclass(frozen=True, slots=True)
class _Chunk:
    entry_start: int
    entry_stop: int
    row_start: int
    row_stop: int
    previous_key: tuple[object, ...] | None


class MappedSource(Source):
    """A file read in raw chunks and mapped onto the event model.

    Args:
        path: The file.
        mapping: The mapping to apply.
        note: Why this mapping (shown to the user), e.g. "chosen automatically".
    """

    def __init__(self, path: str, *, mapping: EventMapping, note: str | None = None) -> None:
        super().__init__(path)
        self.mapping = mapping
        if note:
            self.notes.append(note)
        self._bound: BoundMapping | None = None
        self._plan: list[_Chunk] | None = None

    def __getstate__(self) -> dict[str, object]:  # compiled closures stay behind; rebuilt on use
        return {**self.__dict__, "_bound": None}

    @abstractmethod
    def branch_types(self) -> dict[str, BranchType]:
        """The file's branches (or columns) and their types, without reading data."""

    @abstractmethod
    def _chunks(self) -> list[tuple[int, int]]:
        """Raw row ranges (entries) covering the file, in order."""

    @abstractmethod
    def _read_raw(self, start: int, stop: int, *, names: Sequence[str], batch_size: int) -> Iterator[tuple[int, dict[str, Column]]]:
        """Yield ``(rows, columns)`` for raw rows ``start..stop``, ``batch_size`` rows at most each."""

    def bound(self) -> BoundMapping:
        """The mapping bound to this file (checked once).

        Raises:
            InputError: Naming the file and the missing or mistyped branch.
        """
        if self._bound is None:
            self._bound = bind_mapping(self.mapping, self.branch_types(), source=self.path)
        return self._bound

    def _make_plan(self) -> list[_Chunk]:
        bound = self.bound()
        chunks = self._chunks()
        if not bound.dedup_keys:
            return [_Chunk(a, b, a, b, None) for a, b in chunks]
        plan, row, prev = [], 0, None
        for a, b in chunks:
            first_prev, kept = prev, 0
            for n, cols in self._read_raw(a, b, names=bound.dedup_keys, batch_size=_KEY_SCAN_ROWS):
                keys = [cols[k].values for k in bound.dedup_keys]
                kept += int(np.count_nonzero(first_of_runs(keys, previous=prev)))
                prev = tuple(k[-1] for k in keys) if n else prev
            plan.append(_Chunk(a, b, row, row + kept, first_prev))
            row += kept
        n_rows = chunks[-1][1] if chunks else 0
        self.notes.append(
            f"mapping {self.mapping.name}: {n_rows:,} rows hold {row:,} events (distinct consecutive "
            f"{', '.join(bound.dedup_keys)}); {n_rows - row:,} repeated rows dropped, keeping the first row of each event")
        return plan

    def shards(self) -> list[Shard]:
        """One shard per raw chunk, counted in events (after dedup).

        Raises:
            InputError: If the file cannot be opened or the mapping does not fit it.
        """
        self._plan = self._make_plan()
        return [Shard(self.path, self.format, i, c.row_start, c.row_stop) for i, c in enumerate(self._plan)]

    def read(self, shard: Shard, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Yield the shard's events as event-model batches (``batch_size`` events at most each).

        Raises:
            InputError: Naming file, chunk and branch when a chunk cannot be read or mapped.
        """
        if self._plan is None:
            self._plan = self._make_plan()  # in another process: the same file gives the same plan
        if not 0 <= shard.unit < len(self._plan) or (self._plan[shard.unit].row_start, self._plan[shard.unit].row_stop) \
                != (shard.row_start, shard.row_stop):
            raise self._fail(shard, IndexError("the shard does not match this file's chunks (was the file changed?)"))
        chunk = self._plan[shard.unit]
        bound, prev = self.bound(), chunk.previous_key
        label = f"entries {chunk.entry_start}-{chunk.entry_stop}"
        try:
            for n, cols in self._read_raw(chunk.entry_start, chunk.entry_stop, names=bound.branches, batch_size=batch_size):
                batch = apply_mapping(bound, cols, n, source=self.path)
                if bound.dedup_keys:
                    keys = [cols[k].values for k in bound.dedup_keys]
                    keep = first_of_runs(keys, previous=prev)
                    prev = tuple(k[-1] for k in keys) if n else prev
                    if not keep.all():
                        batch = batch.filter(pa.array(keep))
                if batch.num_rows:
                    yield batch
        except InputError as err:
            raise InputError(err.reason, source=self.path, batch=err.batch or label, column=err.column) from err


class ArrowMappedSource(MappedSource):
    """A Parquet or Arrow IPC file whose columns are mapped (e.g. NanoAOD exported to Parquet).

    Args:
        inner: The plain source of the file.
        mapping: The mapping.
        note: Why this mapping.
    """

    def __init__(self, inner: Source, *, mapping: EventMapping, note: str | None = None) -> None:
        super().__init__(inner.path, mapping=mapping, note=note)
        self.inner = inner
        self.format = inner.format
        self._inner_shards: list[Shard] | None = None

    def branch_types(self) -> dict[str, BranchType]:
        """Column types from the file's schema."""
        return types_from_arrow(self.inner.schema())

    def _chunks(self) -> list[tuple[int, int]]:
        self._inner_shards = self.inner.shards()
        return [(s.row_start, s.row_stop) for s in self._inner_shards]

    def _read_raw(self, start: int, stop: int, *, names: Sequence[str], batch_size: int) -> Iterator[tuple[int, dict[str, Column]]]:
        if self._inner_shards is None:
            self._inner_shards = self.inner.shards()
        shard = next(s for s in self._inner_shards if (s.row_start, s.row_stop) == (start, stop))
        if isinstance(self.inner, ParquetSource):  # decode only the columns the mapping reads
            batches = self.inner.read(shard, batch_size=batch_size, columns=names)
        else:  # IPC: columns are zero-copy views, unread ones cost nothing
            batches = self.inner.read(shard, batch_size=batch_size)
        for batch in batches:
            yield batch.num_rows, columns_from_arrow(batch, names, source=self.path)
