"""The sink actor: commits the kept streams of several batches per file, exactly once by batch id.

Why groups: one small Parquet file per (stream, batch) cost 9.6 ms of the
sink's CPU per 65,536-event batch with the default menu (four streams of a few
thousand rows); one file per stream for 2, 4, 8 batches costs 7.1, 5.9, 5.3 ms.
So a sink buffers the kept rows of a *group* of batches and writes one file per
stream, ``DIR/<stream>/group-<sink>-<seq>.parquet`` (temporary name, then
``os.replace``: a reader never sees half a file), rows in the order the batches
arrived, the batch ids and their row counts in the file's key-value metadata.

A batch is acknowledged (``write`` returns) only once its group is on disk and
journaled (:mod:`trigger.runtime.ray.sink_journal`), and the source holds the
batch's credit until then: so a group closes after ``max_group_batches``
batches (the driver keeps that below the credits), ``max_group_rows`` rows or
``max_group_bytes`` bytes in a stream, ``max_group_delay_s`` after its first
batch, two usual gaps after its last batch (batches stopped coming), or on
:meth:`SinkActor.flush`; whatever the credits, nothing waits long for a batch
that cannot come. Duplicate writes of a pending or committed batch id
are ignored (the caller waits for the pending commit); a restarted sink learns
the committed ids from the journals. Quarantined rows stay one file per batch,
``DIR/quarantine/<batch id>.arrow`` as the local recorder writes them (rare;
rewriting one replaces it with the same rows).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from trigger.io.sinks import parquet_encoding
from trigger.runtime.ray.messages import safe_name
from trigger.runtime.ray.sink_journal import (
    JournalWriter,
    group_file,
    journal_path,
    load_journals,
    remove_orphans,
)
from trigger.runtime.ray.transport import unpack

Packed = pa.Buffer | pa.Table

__all__ = ["SinkActor", "clean_stale_tmp"]


def clean_stale_tmp(out_dir: Path) -> int:
    """Remove temporary files a crashed run left (call before any sink starts).

    Returns:
        Files removed.
    """
    removed = 0
    for stale in Path(out_dir).glob("*/.*.tmp"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed


def _commit(target: Path, write: Callable[[Path], None]) -> int:
    """Write through ``write(tmp_path)`` then rename onto ``target``; returns bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target.stat().st_size


class _Group:
    """The kept rows of the batches one file per stream will hold, and the future their writers await."""

    def __init__(self, seq: int, done: asyncio.Future[dict[str, int]]) -> None:
        self.seq, self.done = seq, done
        self.batch_ids: list[str] = []
        self.streams: dict[str, list[tuple[str, pa.RecordBatch]]] = {}
        self.rows: dict[str, int] = {}
        self.nbytes: dict[str, int] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.opened_s = 0.0

    def fits(self, tables: dict[str, pa.RecordBatch]) -> bool:
        """False when a stream's schema differs from the rows held (a file has one schema, as locally)."""
        return all(s not in self.streams or self.streams[s][0][1].schema.equals(t.schema) for s, t in tables.items())

    def add(self, batch_id: str, tables: dict[str, pa.RecordBatch]) -> None:
        self.batch_ids.append(batch_id)
        for stream, table in tables.items():
            self.streams.setdefault(stream, []).append((batch_id, table))
            self.rows[stream] = self.rows.get(stream, 0) + table.num_rows
            self.nbytes[stream] = self.nbytes.get(stream, 0) + table.get_total_buffer_size()  # nbytes walks nested


class SinkActor:
    """Writes kept events by groups of batches, and quarantined rows (wrap with ``ray.remote``: an async actor).

    Args:
        out_dir: The run's output directory.
        sink_index: This sink's number (names its files and its journal).
        compression: Parquet codec (the local sinks use zstd too).
        max_group_batches: Commit a group at this many batches (keep it below
            the credits the sources hold: see the module doc).
        max_group_rows: ...or when a stream holds this many rows...
        max_group_bytes: ...or this many bytes...
        max_group_delay_s: ...or this long after the group's first batch (sooner
            when no batch came for twice the usual gap between batches).
        yield_to_filters: Commit only on CPU the filters leave idle (paced replay,
            where decision latency counts; see :func:`_yield_to_filters`).
    """

    def __init__(self, out_dir: str, *, sink_index: int = 0, compression: str = "zstd", max_group_batches: int = 8,
                 max_group_rows: int = 65_536, max_group_bytes: int = 64 << 20, max_group_delay_s: float = 0.2,
                 yield_to_filters: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.sink_index, self.compression = sink_index, compression
        self.max_group_batches, self.max_group_delay_s = max(1, max_group_batches), max_group_delay_s
        self.max_group_rows, self.max_group_bytes = max_group_rows, max_group_bytes
        committed = load_journals(self.out_dir)
        remove_orphans(self.out_dir, committed, sink_index=sink_index)  # a past incarnation died before journaling
        self.committed: set[str] = set(committed.batch_ids)
        self.seq = committed.next_seq.get(sink_index, 0)
        self.journal = JournalWriter(journal_path(self.out_dir, sink_index))
        self.pending: dict[str, _Group] = {}
        self.group: _Group | None = None
        self.commits: set[asyncio.Task[None]] = set()
        # One thread: groups commit in order (journal and file numbers), off the event loop that takes writes.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"sink-{sink_index}",
                                           initializer=_yield_to_filters if yield_to_filters else None)
        self.writes = self.groups = self.bytes_written = self.duplicates_ignored = 0
        self.gap_s: float | None = None  # between new batches (moving average)
        self.last_add_s: float | None = None

    async def write(self, batch_id: str, streams: dict[str, Packed], quarantined: Packed | None) -> dict[str, int]:
        """Take one batch's outputs; return once they are committed (idempotent by ``batch_id``).

        Args:
            batch_id: The input batch.
            streams: Stream name -> kept events (packed by :func:`~trigger.runtime.ray.transport.pack`).
            quarantined: Bad rows with their reason (packed), or None.

        Returns:
            Stream (or ``"quarantine"``) -> bytes of the file now holding the
            batch's rows; empty for a batch committed before (nothing written).

        Raises:
            OSError: The group holding the batch could not be written (its batches can be written again).
        """
        loop = asyncio.get_running_loop()
        sizes: dict[str, int] = {}
        rows = None if quarantined is None else unpack(quarantined)
        if rows is not None and rows.num_rows:
            target = self.out_dir / "quarantine" / f"{safe_name(batch_id)}.arrow"
            sizes["quarantine"] = await loop.run_in_executor(self.executor, _commit, target,
                                                             lambda tmp: _write_ipc(tmp, rows))
        if batch_id in self.committed:
            self.duplicates_ignored += 1
            return sizes
        group = self.pending.get(batch_id)
        if group is not None:
            self.duplicates_ignored += 1  # a re-dispatch while the first write waits: same commit
        else:
            tables = {s: b for s, b in ((s, unpack(p)) for s, p in streams.items()) if b.num_rows}
            if not tables:
                self.writes += 1
                return sizes
            group = self._add(batch_id, tables)
        files = await asyncio.shield(group.done)
        self.writes += 1
        return {**sizes, **{s: n for s, n in files.items() if s in streams}}

    async def flush(self) -> dict[str, int]:
        """Commit the open group now and wait for every commit in progress (the end of a run)."""
        if self.group is not None:
            self._close(self.group)
        while self.commits:
            await asyncio.gather(*list(self.commits), return_exceptions=True)
        return await self.stats()

    async def stats(self) -> dict[str, int]:
        """Batches, groups, bytes and duplicates since this actor (re)started."""
        return {"writes": self.writes, "groups": self.groups, "bytes_written": self.bytes_written,
                "duplicates_ignored": self.duplicates_ignored}

    def _add(self, batch_id: str, tables: dict[str, pa.RecordBatch]) -> _Group:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self.last_add_s is not None:
            gap = now - self.last_add_s
            self.gap_s = gap if self.gap_s is None else 0.7 * self.gap_s + 0.3 * gap
        self.last_add_s = now
        group = self.group
        if group is not None and not group.fits(tables):
            self._close(group)
            group = None
        if group is None:
            group = self.group = _Group(self.seq, loop.create_future())
            self.seq += 1
            group.opened_s = now
        group.add(batch_id, tables)
        self.pending[batch_id] = group
        if (len(group.batch_ids) >= self.max_group_batches or max(group.rows.values()) >= self.max_group_rows
                or max(group.nbytes.values()) >= self.max_group_bytes):
            self._close(group)
            return group
        # Wait for more only while batches keep coming: twice the usual gap after this one (the last group
        # of a run then waits two gaps, not max_group_delay_s: measured, 0.2 s there cost 20% of a 1 s
        # run), never longer than max_group_delay_s after the first.
        idle_s = self.max_group_delay_s if self.gap_s is None else max(2 * self.gap_s, 0.005)
        if group.timer is not None:
            group.timer.cancel()
        group.timer = loop.call_at(min(group.opened_s + self.max_group_delay_s, now + idle_s), self._close, group)
        return group

    def _close(self, group: _Group) -> None:
        """Stop adding to ``group`` and start its commit (once)."""
        if group is not self.group:
            return
        self.group = None
        if group.timer is not None:
            group.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._commit_group(group))
        self.commits.add(task)
        task.add_done_callback(self.commits.discard)

    async def _commit_group(self, group: _Group) -> None:
        try:
            files = await asyncio.get_running_loop().run_in_executor(self.executor, self._write_group, group)
        except Exception as err:  # noqa: BLE001 - any failure: the writers must hear of it, not hang
            for batch_id in group.batch_ids:  # never acknowledged: a retry writes them again
                self.pending.pop(batch_id, None)
            group.done.set_exception(err)
            group.done.exception()  # retrieved: no "never retrieved" warning when nobody waits
            return
        for batch_id in group.batch_ids:
            self.pending.pop(batch_id, None)
            self.committed.add(batch_id)
        self.groups += 1
        self.bytes_written += sum(files.values())
        group.done.set_result(files)

    def _write_group(self, group: _Group) -> dict[str, int]:
        """One file per stream, then the journal line (runs in the commit thread)."""
        sizes, names = {}, {}
        for stream, parts in group.streams.items():
            ids, batches = [b for b, _ in parts], [t for _, t in parts]
            schema = batches[0].schema
            meta = {**(schema.metadata or {}), b"trigger.batch_ids": json.dumps(ids).encode(),
                    b"trigger.batch_rows": json.dumps([t.num_rows for t in batches]).encode()}
            table = pa.Table.from_batches(batches, schema=schema.with_metadata(meta))
            target = group_file(self.out_dir, stream, self.sink_index, group.seq)
            # The local sinks' encoding: dictionary-encoding every float column and keeping statistics on
            # all of them doubled this write.
            sizes[stream] = _commit(target, lambda tmp, t=table: pq.write_table(
                t, tmp, compression=self.compression, **parquet_encoding(t.schema)))
            names[stream] = target.relative_to(self.out_dir).as_posix()
        # The acknowledgement follows this line: a crash before it leaves orphans that the next start removes.
        self.journal.append({"group": f"{self.sink_index}-{group.seq}", "batch_ids": group.batch_ids,
                             "files": names})
        return sizes


def _yield_to_filters() -> None:
    """Run the commit thread only on CPU the filters leave idle (Linux ``SCHED_IDLE``).

    A group commit is a burst of Parquet encoding (~6 ms per batch in it); on cores
    the filters share, it delayed the decisions running beside it: the tail of the
    decision latency (p99 / batch service at 80% load, warm runs alternated on a noisy
    machine: 2.2-5.1, median 3.5 without; 2.0-4.5, median 2.4 with). Commits are off
    the decision path (they gate only credits),
    so in a paced replay they wait for an idle moment. Not in throughput mode: there
    the filters never idle, commits wait until credits run out, and 2 filters made
    2.6-2.8M instead of 3.0-3.3M events/s.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # this thread only (Linux: per task)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: commits keep the normal policy


def _write_ipc(tmp: Path, rows: pa.RecordBatch) -> None:
    with pa.OSFile(str(tmp), "wb") as fh, pa.ipc.new_file(fh, rows.schema) as writer:
        writer.write_batch(rows)
