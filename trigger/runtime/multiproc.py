"""A local replay over engine processes: one engine per core, no GIL between them.

The threaded replay shares one interpreter: its engine threads release the GIL
in numpy and Arrow kernels but take it back for every small call, and one
writer thread serves them all, so two cores give ~1.6x one core. Here each of
``processes`` engines is a separate interpreter (the replay's own process
counts as one: it runs a worker thread with the engine it already has, while
the children start). Every worker takes whole shards from a shared queue,
reads them itself (memory-mapped IPC: the data never crosses a process
boundary), decides them and writes its own Parquet parts; the replay's process
keeps the books (ledger, quarantine, summary) from the small per-batch reports.

What changes against the threaded replay: kept events land in one set of parts
per worker (``part-p<k>-NNNNN.parquet``), in the order that worker decided
them. The kept events themselves, the counts and the decisions are the same.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

from trigger.engine.spec import EngineSpec
from trigger.errors import ConfigError, InputError, TriggerError
from trigger.io.batch import Shard
from trigger.io.mapping import EventMapping
from trigger.io.quarantine import QuarantineRecord
from trigger.io.sources import Source
from trigger.runtime.progress import ProgressReporter
from trigger.runtime.recorder import RunRecorder
from trigger.runtime.worker import WorkerSetup, run_worker

__all__ = ["EngineProcessError", "choose_start_method", "replay_in_processes"]

_POLL_S = 0.5


class EngineProcessError(TriggerError):
    """An engine process of a local replay failed or died."""


def replay_in_processes(
    *,
    processes: int,
    engine: Any,
    engine_spec: EngineSpec | None,
    sources: list[Source],
    shards: dict[int, list[Shard]],
    recorder: RunRecorder,
    make_progress: Callable[[], ProgressReporter],
    on_incident: Any,
    batch_size: int,
    max_rows_per_file: int,
    mapping: EventMapping | None,
    tune_heap: bool,
    start_method: str = "auto",
) -> dict[str, Any]:
    """Decide every shard with ``processes`` engines and book every batch in ``recorder``.

    Args:
        processes: Engines in all (this process's worker thread included).
        engine: The engine already built here (used by the in-process worker), or
            None: then nothing of it exists before the children start, and every
            process, this one included, builds its own from ``engine_spec``.
        engine_spec: How children build their engine (the same menu text), unless
            they are forked from a process with a built engine: they keep it.
        sources: The opened inputs, by index.
        shards: Source index -> its shards.
        recorder: Books the reports (ledger, quarantine, counts).
        make_progress: Starts the live display (once the children run: its refresh
            thread must not be running when they fork).
        on_incident: Called with each quarantine record.
        batch_size: Events per batch (at most).
        max_rows_per_file: Roll output parts after this many rows.
        mapping: Mapping for every input, if one was given.
        tune_heap: Tune the children's allocator and collector.
        start_method: How children start (see :func:`choose_start_method`).

    Returns:
        Details for the summary (processes, bytes written, when each child was ready).

    Raises:
        EngineProcessError: A worker failed (with its traceback) or a child died.
        ConfigError: Children must be spawned and no ``engine_spec`` was given.
    """
    t0 = time.perf_counter()
    method = choose_start_method(start_method)
    if engine_spec is None and (method != "fork" or engine is None):
        raise ConfigError(f"engine processes started with {method!r} build their engine from the menu: pass "
                          "engine_spec (EngineSpec.from_menu(menu path))")
    ctx = mp.get_context(method)
    tasks: Any = ctx.Queue()
    results: Any = ctx.Queue()
    out_dir = str(recorder.out_dir)
    inputs = tuple(s.path for s in sources)

    def setup(index: int) -> WorkerSetup:
        return WorkerSetup(index, engine_spec if index else None, out_dir, inputs, batch_size, max_rows_per_file,
                           mapping, tune_heap)

    # A forked child keeps the engine it inherits (no ONNX Runtime in this process: see
    # choose_start_method); a spawned one, or a child forked before any engine exists here,
    # builds its own from the menu text.
    inherited: dict[str, Any] = {}
    if method == "fork":
        inherited = {"fresh_process": True} if engine is None else {"engine": engine, "fresh_process": True}
    children = [ctx.Process(target=run_worker, args=(setup(i), tasks, results), kwargs=inherited,
                            name=f"trigger-engine-{i}", daemon=True) for i in range(1, processes)]
    with warnings.catch_warnings():
        # Python >= 3.12 warns on any fork of a process with threads. Ours are idle pool threads
        # of OpenBLAS and Arrow, which re-create their pools after a fork (atfork handlers).
        warnings.simplefilter("ignore", DeprecationWarning)
        for child in children:
            child.start()  # before any queue has a feeder thread or the local worker runs
    n_tasks = 0
    for index in sorted(shards):
        for shard in shards[index]:
            tasks.put((index, shard))
            n_tasks += 1
    for _ in range(processes):
        tasks.put(None)
    if engine is None:
        try:
            engine = engine_spec()  # type: ignore[misc]  # now that the children are forked
        except BaseException:
            for child in children:
                child.terminate()
                child.join(timeout=30)
            for q in (tasks, results):  # no feeder thread may wait on a killed child's lock at exit
                q.cancel_join_thread()
                q.close()
            raise
    progress = make_progress()
    stop = threading.Event()
    local = threading.Thread(target=run_worker, args=(setup(0), tasks, results),
                             kwargs={"engine": engine, "stop": stop}, name="trigger-engine-0", daemon=True)
    local.start()
    done: dict[int, int] = {}
    ready_s: dict[int, float] = {}
    batches = dict.fromkeys(range(processes), 0)
    bytes_written = 0
    checked = time.perf_counter()
    try:
        while len(done) < processes:
            if time.perf_counter() - checked > _POLL_S:  # a dead child sends nothing: look
                _check_alive(children, done)
                checked = time.perf_counter()
            try:
                message = results.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            kind, index = message[0], message[1]
            if kind == "report":
                batches[index] += 1
                for incident in recorder.record_report(message[2]):
                    on_incident(incident)
                progress.update(events=recorder.events_in, kept=recorder.kept, bytes_in=recorder.bytes_in)
            elif kind == "unreadable":
                _, _, shard, row, batch_id, column, reason = message
                record: QuarantineRecord = recorder.record_unreadable(
                    shard, row_start=row, batch_id=batch_id, error=InputError(reason, source=shard.path, column=column))
                on_incident(record)
            elif kind == "ready":
                ready_s[index] = round(time.perf_counter() - t0, 3)
            elif kind == "done":
                done[index] = message[2]
                bytes_written += message[2]
            elif kind == "failed":
                raise EngineProcessError(f"engine process {index} failed; the replay stopped:\n{message[2]}")
    finally:
        progress.close()
        stop.set()
        for child in children:
            if child.is_alive() and len(done) < processes:
                child.terminate()
        for child in children:
            child.join(timeout=30)
        local.join(timeout=30)  # it stops after its current batch
        if len(done) < processes:
            # A child killed while writing to a queue leaves that queue's lock taken forever:
            # our feeder threads would block on it, and the interpreter joins them at exit.
            tasks.cancel_join_thread()
            results.cancel_join_thread()
        tasks.close()
        results.close()
    workers = [{"index": i, "ready_s": ready_s.get(i), "batches": batches[i]} for i in range(processes)]
    return {"processes": processes, "start_method": method, "shards": n_tasks, "bytes_written": bytes_written,
            "workers": workers}


def choose_start_method(requested: str = "auto") -> str:
    """How engine processes start.

    ``auto`` forks on Linux while neither ONNX Runtime nor Ray is loaded in this
    process, and spawns otherwise. A fork starts a child in ~10 ms with the engine already
    built and the heap warm; a spawned child imports everything and compiles the
    menu (~0.25 s here: 17% of a 10M-event replay on two cores, measured with
    ``bench/replay_bench.py``). ONNX Runtime's sessions and thread pools do not
    survive a fork (its documentation: create sessions after a fork; importing it
    starts a thread), nor do Ray's (gRPC) threads, hence spawn once either is
    loaded; macOS cannot fork safely. A replay given its engine as an
    :class:`~trigger.engine.spec.EngineSpec` forks before loading any model,
    and every process then loads its own (~0.1 s: ONNX Runtime and the sessions).

    Args:
        requested: ``auto``, ``fork``, ``spawn`` or ``forkserver``.

    Returns:
        The start method.

    Raises:
        ConfigError: If ``requested`` is not available here.
    """
    if requested == "auto":
        unsafe = {"onnxruntime", "ray"} & sys.modules.keys()  # their threads and sessions do not survive a fork
        return "fork" if sys.platform.startswith("linux") and not unsafe else "spawn"
    available = mp.get_all_start_methods()
    if requested not in available:
        raise ConfigError(f"start method {requested!r} is not available here; choose auto or one of {available}")
    return requested


def _check_alive(children: list[Any], done: dict[int, int]) -> None:
    """Refuse to wait for a child that died without saying why (killed, out of memory, crashed)."""
    for i, child in enumerate(children, start=1):
        if i not in done and child.exitcode is not None:
            raise EngineProcessError(
                f"engine process {i} (pid {child.pid}) died with exit code {child.exitcode} before finishing its "
                "shards; its batches are missing from the ledger. A negative code is the signal that killed it "
                "(-9: out of memory or killed); exit code 1 at start often means a script started the "
                "replay without an `if __name__ == '__main__':` guard (spawned children import it). "
                "Rerun, or use fewer --processes.")
