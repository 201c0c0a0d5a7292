"""The source actor: reads its files, paces them, and dispatches batches straight to filters.

An async actor. A live pump and a backfill pump read shards (memory-mapped IPC
or Parquet row groups), put each batch into the object store *once*
(:mod:`trigger.runtime.ray.transport`: only its rows; before it is due and
before its credit, so the copy overlaps the waiting: 22 -> 16 ms median decision
latency at 80% load), wait for the pacing schedule (paced replay), take a credit
(:mod:`trigger.runtime.ray.credits`; the wait is deadtime) and call a filter
actor with the reference. A batch stays referenced here until
its sink acknowledged the outputs; if its filter (or the sink) died meanwhile,
the same reference is dispatched again to another filter. The driver polls
:meth:`SourceActor.poll` for the small result records.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa
import ray
from ray.exceptions import (
    NodeDiedError,
    ObjectLostError,
    RayActorError,
    WorkerCrashedError,
)

from trigger.errors import ConfigError, InputError
from trigger.io.batch import Shard
from trigger.io.pacer import Rate
from trigger.io.quarantine import QuarantineRecord
from trigger.io.sources import open_source
from trigger.runtime.heap import freeze_startup_objects
from trigger.runtime.ray.credits import CreditPool
from trigger.runtime.ray.messages import (
    BACKFILL,
    LIVE,
    BatchMeta,
    FilterResult,
    SourceReport,
    Unreadable,
)
from trigger.runtime.ray.pacing import Schedule, restamp
from trigger.runtime.ray.transport import FileSlice, file_slices, pack

__all__ = ["SourceActor", "SourcePlan"]

#: Failures that lose a filter or sink (the batch is dispatched again), as opposed to bugs.
LOST = (RayActorError, ObjectLostError, WorkerCrashedError, NodeDiedError)

#: ``(source index, path, shards)`` for each file of a source actor; batch ids are
#: ``f"{prefix}{index}:{row}"``.
SourcePlan = list[tuple[int, str, list[Shard]]]


def _put(data: pa.RecordBatch) -> ray.ObjectRef:
    return ray.put(pack(data))


class SourceActor:
    """Reads and dispatches one group of files (wrap with ``ray.remote`` to use).

    Args:
        live: The live files of this source.
        backfill: Backlog files, fed only with idle credit.
        skip: Batch id -> ``(row_start, row_stop)`` already in the ledger (resume).
        batch_size: Events per live batch.
        backfill_batch_size: Events per backfill batch.
        rate_steps: ``[(t_s, rate), ...]``: this source's share of the offered
            load (see :mod:`trigger.runtime.ray.pacing`); empty: as fast as credits allow.
        max_attempts: Dispatches of a batch before it is quarantined as poison.
        mapping: Mapping onto the event model (shipped name or YAML path), as ``--mapping``.
        transport: ``"object-store"``: read each batch and put it in the object store;
            ``"file"``: send filters a :class:`~trigger.runtime.ray.transport.FileSlice`
            to read themselves where the input allows it (files read as they are, unpaced
            or paced at an event rate; see :func:`~trigger.runtime.ray.transport.file_slices`).
    """

    def __init__(self, *, live: SourcePlan, backfill: SourcePlan, skip: dict[str, tuple[int, int]], batch_size: int,
                 backfill_batch_size: int, rate_steps: list[tuple[float, Rate]], max_attempts: int,
                 mapping: str | None = None, transport: str = "object-store") -> None:
        self.live, self.backfill, self.skip = live, backfill, skip
        self.batch_size, self.backfill_batch_size = batch_size, backfill_batch_size
        self.schedule = Schedule(rate_steps) if rate_steps else None
        self.max_attempts, self.mapping = max_attempts, mapping
        self.transport = transport
        self.credits = CreditPool()
        self.report = SourceReport()
        self.tasks: set[asyncio.Task[None]] = set()
        self.main: asyncio.Task[None] | None = None

    async def set_leases(self, leases: dict[int, tuple[Any, int]]) -> None:
        """Filter id -> (actor handle, credits this source may use there)."""
        await self.credits.set_leases(leases)

    async def set_backfill_paused(self, paused: bool) -> None:
        """Pause backfill while live latency is over budget (the driver decides)."""
        await self.credits.set_flags(backfill_paused=paused)

    async def start(self) -> None:
        """Warm the path to each leased filter, then start reading and dispatching.

        The first object put and the first call from this process to an actor
        cost ~100 ms each; paid on a probe here, they stay out of the first
        batches' latency (and the pacing schedule starts after them).
        """
        if self.main is None:
            from trigger.testing import make_batch

            probe = ray.put(pack(make_batch([{}])))
            warm = [self.credits.handle(fid).warm.remote(probe) for fid in self.credits.limits]
            await asyncio.gather(*warm, return_exceptions=True)  # a filter lost here is handled on first use
            freeze_startup_objects()  # as the filters do: a full collection must not pause dispatching
            self.main = asyncio.get_running_loop().create_task(self._run())

    async def poll(self) -> SourceReport:
        """Hand over what happened since the last poll."""
        out, self.report = self.report, SourceReport(
            deadtime_s=self.report.deadtime_s, emitted_events=self.report.emitted_events,
            redispatched=self.report.redispatched)
        out.in_flight = self.credits.in_flight_by_filter()
        out.done = self.main is not None and self.main.done() and not self.tasks
        if self.schedule is not None:
            out.pacing = self.schedule.summary() if out.done else None
            out.offered_events_per_s = 0.0 if self.credits.live_finished else self.schedule.offered_events_per_s(
                time.time_ns())
        return out

    def max_in_flight(self) -> dict[int, int]:
        """Filter id -> most batches this source ever had in flight there."""
        return dict(self.credits.max_in_flight_seen)

    async def _run(self) -> None:
        try:
            pumps = [self._pump(self.live, "", self.batch_size, LIVE)]
            if self.backfill:
                pumps.append(self._pump(self.backfill, "b", self.backfill_batch_size, BACKFILL))
            await asyncio.gather(*pumps)
            while self.tasks:
                await asyncio.gather(*list(self.tasks))
        except Exception:
            self.report.failure = traceback.format_exc()

    async def _pump(self, plan: SourcePlan, prefix: str, batch_size: int, priority: str) -> None:
        live = priority == LIVE
        schedule = self.schedule if live else None  # backfill is never paced: it takes idle credit
        for idx, path, shards in plan:
            source = open_source(path, mapping=self.mapping)
            for shard in shards:
                # A byte-rate schedule needs each batch's exact size: such batches travel as data.
                if self.transport == "file" and (schedule is None or schedule.unit == "events"):
                    slices = await asyncio.to_thread(self._slices, source, shard, batch_size, priority,
                                                     f"{prefix}{idx}")
                    if slices is not None:
                        for meta, where in slices:
                            if schedule is not None:  # the filter restamps the rows it reads
                                stamps, due_ns = schedule.plan(where.rows, meta.nbytes, time.time_ns())
                                where, meta = replace(where, stamps=stamps), replace(meta, emitted_ns=due_ns)
                                await asyncio.sleep(max(0.0, (due_ns - time.time_ns()) / 1e9))
                                schedule.emitted(due_ns, time.time_ns(), where.rows)
                            await self._dispatch(meta, where, live)
                        continue
                row = shard.row_start
                try:
                    # Decoding (Parquet) and the copy into the object store run in a thread: they release
                    # the GIL, so the event loop keeps dispatching and acknowledging meanwhile, and the
                    # next batch is read while this one waits for its credit (one batch ahead, bounded).
                    batches = iter(source.read(shard, batch_size=batch_size))
                    ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                    while (data := await ahead) is not None:
                        ahead = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
                        batch_id, stop = f"{prefix}{idx}:{row}", row + data.num_rows
                        row = stop
                        if self._skip(batch_id, stop - data.num_rows, stop):
                            continue
                        emitted_ns = time.time_ns()  # as the local reader stamps a batch it read
                        if schedule is not None:
                            stamps, emitted_ns = schedule.plan(data.num_rows, data.nbytes, emitted_ns)
                            data = restamp(data, stamps)
                        # Put before the batch is due and before its credit: the copy into the object
                        # store (~5 ms for 65,536 events) then overlaps the wait instead of adding to
                        # every batch's latency. One batch per source beyond the credits, bounded.
                        ref = await asyncio.to_thread(_put, data)  # once: a re-dispatch sends the same reference
                        if schedule is not None:
                            await asyncio.sleep(max(0.0, (emitted_ns - time.time_ns()) / 1e9))
                            schedule.emitted(emitted_ns, time.time_ns(), data.num_rows)
                        meta = BatchMeta(batch_id, path, stop - data.num_rows, stop, data.nbytes, emitted_ns,
                                         priority)
                        await self._dispatch(meta, ref, live)
                    if row != shard.row_stop:
                        raise InputError(f"shard ended at row {row}, expected {shard.row_stop}", source=path)
                except InputError as err:
                    if row < shard.row_stop and not self._skip(f"{prefix}{idx}:{row}", row, shard.row_stop):
                        self.report.unreadable.append(Unreadable(path, shard.format, shard.unit, row, shard.row_stop,
                                                                 f"{prefix}{idx}:{row}", err.column, err.reason, priority))
        if live:
            await self.credits.set_flags(live_finished=True)

    def _slices(self, source: Any, shard: Shard, batch_size: int, priority: str,
                input_id: str) -> list[tuple[BatchMeta, FileSlice]] | None:
        """The shard's batches as (meta, file slice), skipping those already in the ledger; None: read it."""
        try:
            slices = file_slices(source, shard, batch_size=batch_size)
        except (OSError, pa.ArrowException):
            return None  # the object-store path reads it and reports what is wrong
        if slices is None:
            return None
        out = []
        for where, nbytes in slices:
            start = shard.row_start + where.offset
            batch_id = f"{input_id}:{start}"
            if not self._skip(batch_id, start, start + where.rows):
                out.append((BatchMeta(batch_id, source.path, start, start + where.rows, nbytes, 0, priority), where))
        return out

    async def _dispatch(self, meta: BatchMeta, ref: Any, live: bool) -> None:
        """Take a credit (the wait is deadtime for live batches) and send the batch to that filter."""
        if not meta.emitted_ns:  # a file slice: "read" now, as the local reader stamps a batch it read
            meta = replace(meta, emitted_ns=time.time_ns())
        t_wait = time.monotonic()
        fid = await self.credits.acquire(live=live)
        if live:  # the source could not emit: deadtime
            self.report.deadtime_s += time.monotonic() - t_wait
            self.report.emitted_events += meta.num_rows
        self._spawn(self._deliver(meta, ref, fid))

    def _skip(self, batch_id: str, row_start: int, row_stop: int) -> bool:
        done = self.skip.get(batch_id)
        if done is None:
            return False
        if done != (row_start, row_stop):
            raise ConfigError(
                f"resume: the ledger has batch {batch_id} as rows {done[0]}-{done[1]} but this run reads rows "
                f"{row_start}-{row_stop}; resume with the same --batch-size as the interrupted run")
        return True

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _deliver(self, meta: BatchMeta, ref: ray.ObjectRef | FileSlice, fid: int) -> None:
        """Dispatch until a filter decided the batch and its sink acknowledged it."""
        try:
            while True:
                try:
                    result: FilterResult = await self.credits.handle(fid).process.remote(meta, ref)
                except LOST:
                    await self.credits.release(fid)
                    await self.credits.mark_dead(fid)
                    self.report.dead_filters.append(fid)
                else:
                    # The credit is held until the sink committed: the kept rows (owned by the filter)
                    # and this batch stay bounded by the credits too, even when the sink lags.
                    try:
                        if result.ack is not None:
                            await result.ack
                        self.report.completed.append((meta, result))
                        return
                    except LOST:
                        pass  # the sink (or the filter owning the write) died: decide and write again
                    finally:
                        await self.credits.release(fid)
                if meta.attempt >= self.max_attempts:
                    self.report.completed.append((meta, self._poison(meta)))
                    return
                meta = replace(meta, attempt=meta.attempt + 1)
                self.report.redispatched += 1
                fid = await self.credits.acquire(live=meta.priority == LIVE)
        except Exception:
            self.report.failure = f"batch {meta.batch_id} ({meta.source}):\n{traceback.format_exc()}"

    def _poison(self, meta: BatchMeta) -> FilterResult:
        reason = f"batch lost its filter actor or sink {meta.attempt} times; set aside as a poison batch"
        n = meta.num_rows
        return FilterResult(meta.batch_id, -1, n, 0, 0, n, np.zeros(0, dtype=np.int64), {}, reason,
                            QuarantineRecord(meta.source, meta.batch_id, meta.row_start, meta.row_stop, n, None, reason),
                            time.time_ns(), 0.0)
