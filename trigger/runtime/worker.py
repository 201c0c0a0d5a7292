"""One engine process of a local replay: takes shards, decides them, writes its own parts.

The replay over engine processes (:mod:`trigger.runtime.multiproc`) runs
:func:`run_worker` in each child process and once in the replay's own process
(a thread, with the engine already built). A worker reads the shards it takes
from the task queue itself (Arrow IPC is memory-mapped: nothing is copied
between processes), writes the kept rows to its own Parquet parts
(``DIR/<stream>/part-p<k>-NNNNN.parquet``), and sends one small
:class:`~trigger.runtime.report.BatchReport` per batch to the replay, which
keeps the ledger, the quarantine log and the summary. Messages are tuples
whose first item says what they are (see :data:`MESSAGE_KINDS`).
"""

from __future__ import annotations

import gc
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

from trigger.engine.spec import EngineSpec
from trigger.errors import InputError
from trigger.io.batch import Shard
from trigger.io.mapping import EventMapping
from trigger.io.sinks import StreamSinks
from trigger.io.sources import Source, open_source
from trigger.runtime.heap import freeze_startup_objects, keep_heap_warm
from trigger.runtime.reading import iter_shard
from trigger.runtime.report import report_of

__all__ = ["MESSAGE_KINDS", "WorkerSetup", "run_worker"]

MESSAGE_KINDS = {
    "ready": "(kind, worker): the engine is built; the worker takes shards",
    "report": "(kind, worker, BatchReport): one batch decided, its kept rows written",
    "unreadable": "(kind, worker, shard, first unread row, batch id, column, reason)",
    "done": "(kind, worker, bytes written): no shard left, parts committed",
    "failed": "(kind, worker, traceback text): a bug stopped the worker",
}


class _Queue(Protocol):
    def get(self) -> Any: ...
    def put(self, item: Any) -> None: ...


@dataclass(frozen=True, slots=True)
class WorkerSetup:
    """What an engine process needs, picklable.

    Attributes:
        index: The worker's number (names its parts ``part-p<index>-``).
        engine_spec: Builds the engine in the process.
        out_dir: The run's output directory.
        inputs: The input files, by source index.
        batch_size: Events per batch (at most).
        max_rows_per_file: Roll output parts after this many rows.
        mapping: Mapping onto the event model for every input, if one was given.
        tune_heap: Apply the allocator and collector tuning of :mod:`trigger.runtime.heap`.
    """

    index: int
    engine_spec: EngineSpec | None
    out_dir: str
    inputs: tuple[str, ...]
    batch_size: int
    max_rows_per_file: int
    mapping: EventMapping | None
    tune_heap: bool


def run_worker(setup: WorkerSetup, tasks: _Queue, results: _Queue, *, engine: Any = None,
               fresh_process: bool = False, stop: threading.Event | None = None) -> None:
    """Take ``(source index, shard)`` tasks until a None and report every batch.

    Never raises: a failure is sent as a ``"failed"`` message (the replay stops).

    Args:
        setup: The worker's setup.
        tasks: Queue of ``(source index, Shard)``, ended by None.
        results: Queue the messages go to.
        engine: An engine already built (the in-process worker, a forked child);
            None builds one from ``setup.engine_spec``.
        fresh_process: A forked child: tune its collector.
        stop: Set by the replay when it gives up (the in-process worker then quits).
    """
    index = setup.index
    try:
        if fresh_process and setup.tune_heap:
            # A forked child: everything inherited lives as long as it does. Freeze it without
            # the full collection freeze_startup_objects makes (50 ms here, and it would touch,
            # hence copy, every inherited page); the allocator settings came with the fork.
            gc.freeze()
        if engine is None:
            if setup.tune_heap:
                keep_heap_warm()
            if setup.engine_spec is None:
                raise ValueError("a worker process needs an engine_spec")
            engine = setup.engine_spec.load()[0]
            if setup.tune_heap and fresh_process:
                gc.freeze()  # the engine lives as long as the process, as the inherited objects do
            elif setup.tune_heap:
                freeze_startup_objects()  # this process lives to run batches
        results.put(("ready", index))
        sinks = StreamSinks(setup.out_dir, max_rows_per_file=setup.max_rows_per_file, prefix=f"p{index}-")
        sources: dict[int, Source] = {}

        def unreadable(shard: Shard, row: int, batch_id: str, err: InputError) -> None:
            results.put(("unreadable", index, shard, row, batch_id, err.column, err.reason))

        while (task := tasks.get()) is not None:
            if stop is not None and stop.is_set():
                return
            source_index, shard = task
            source = sources.get(source_index)
            if source is None:
                try:
                    source = sources[source_index] = open_source(setup.inputs[source_index], mapping=setup.mapping)
                except InputError as err:  # it opened in the replay's process: report the shard, go on
                    unreadable(shard, shard.row_start, f"{source_index}:{shard.row_start}", err)
                    continue
            for batch in iter_shard(source, source_index, shard, batch_size=setup.batch_size,
                                    on_unreadable=unreadable):
                outcome = engine.process(batch.data, batch_id=batch.batch_id, source=batch.source)
                decided_ns = time.time_ns()
                for stream, kept in outcome.streams.items():
                    sinks.write(stream, kept)
                results.put(("report", index, report_of(batch, outcome, decided_ns=decided_ns)))
        sinks.close()
        results.put(("done", index, sinks.bytes_written))
    except BaseException:  # noqa: BLE001 - sent to the replay, which raises it with this traceback
        results.put(("failed", index, traceback.format_exc()))
