"""The local runtime: a threaded replay on one machine (the embedded default).

Three stages overlap through bounded queues::

    reader thread --in_q(depth)--> N engine threads --out_q(depth)--> writer (caller's thread)

The engine's work is numpy and Arrow kernels, which release the GIL, so the
engine threads use several cores. Memory is bounded by configuration: at most
``2 * queue_depth + workers`` batches exist at once (a credit
semaphore taken by the reader and given back by the writer), whatever the input size.
The writer puts outcomes back in input order (a small reorder buffer), so the
output files are the same for any number of workers.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trigger.engine import Engine
from trigger.engine.spec import EngineSpec
from trigger.errors import ConfigError, InputError
from trigger.io.batch import Shard
from trigger.io.files import expand_inputs
from trigger.io.mapping import EventMapping, load_mapping
from trigger.io.pacer import Pacer, parse_rate
from trigger.io.quarantine import QuarantineRecord
from trigger.io.sources import Source, open_source
from trigger.runtime.heap import keep_heap_warm
from trigger.runtime.multiproc import replay_in_processes
from trigger.runtime.progress import ProgressReporter
from trigger.runtime.reading import iter_batches
from trigger.runtime.recorder import RunRecorder

__all__ = ["LocalReplay", "ReplayConfig", "iter_batches"]

_DONE = object()


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    """Options of a local replay.

    Attributes:
        batch_size: Events per batch (at most).
        workers: Engine threads (with ``processes`` 1).
        processes: Engine processes; above 1, each decides whole shards in its own
            interpreter and writes its own parts (:mod:`trigger.runtime.multiproc`),
            this process counting as one. Not with ``rate``. 0: as many as the
            cores this process may use, at most one per shard (1 for a paced replay).
        start_method: How engine processes start: ``auto`` (fork unless ONNX
            Runtime or Ray is loaded), ``fork``, ``spawn``, ``forkserver``.
        queue_depth: Batches buffered between stages.
        max_rows_per_file: Roll output parts after this many rows.
        progress: Show live progress.
        tune_heap: Let glibc keep freed heap for the next batch
            (:func:`~trigger.runtime.heap.keep_heap_warm`; process-wide, ~12% faster here).
        rate: Paced replay: emit at this rate (``100kHz``, ``2GB/s``; see
            :func:`~trigger.io.pacer.parse_rate`); None reads as fast as the engine takes batches.
    """

    batch_size: int = 65_536
    workers: int = max(1, os.cpu_count() or 1)
    processes: int = 1
    start_method: str = "auto"
    queue_depth: int = 4
    max_rows_per_file: int = 1_000_000
    progress: bool = True
    tune_heap: bool = True
    rate: str | None = None

    def engine_processes(self, n_shards: int) -> int:
        """The engine processes a replay of ``n_shards`` shards runs (resolves 0, "auto")."""
        if self.processes:
            return self.processes
        if self.rate is not None:
            return 1
        return max(1, min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1,
                          n_shards))

    @property
    def max_in_flight(self) -> int:
        """Batches alive at once, at most: what bounds memory."""
        return 2 * self.queue_depth + self.workers

    def __post_init__(self) -> None:
        for name in ("batch_size", "workers", "queue_depth", "max_rows_per_file"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.processes < 0:
            raise ConfigError(f"processes must be >= 1, or 0 for one per usable core; got {self.processes}")
        if self.rate is not None:
            parse_rate(self.rate)  # refuse a bad rate before any file is opened
            if self.processes > 1:
                raise ConfigError(f"a paced replay (rate {self.rate}) runs in one process: its schedule is one "
                                  f"clock; use processes=1 (--processes 1), got {self.processes}")


def _put(q: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Put with backpressure, giving up when the run is stopping."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


class LocalReplay:
    """Replays files through an engine on this machine.

    Args:
        engine: The engine (menu and models), or the :class:`~trigger.engine.spec.EngineSpec`
            to build it from. Given a spec, the replay checks the menu and its
            models' pins at once and builds the engine when it runs: after forking
            its engine processes, each of which builds its own. ONNX Runtime
            sessions must not cross a fork, so a replay handed a built engine
            with models spawns its processes instead (~0.3 s later each: they
            import everything again).
        out_dir: Output directory.
        config: Replay options.
        menu_name: For the summary.
        on_incident: Called with each quarantine record as it happens (printing).
        mapping: Mapping onto the event model for every input (an
            :class:`~trigger.io.mapping.EventMapping`, a shipped name or a YAML
            path); None: chosen per file where needed (ROOT, other layouts).
        on_note: Called with each note about an input ("mapping X chosen
            automatically", "N repeated rows dropped") as it is made.
        engine_spec: How engine processes build their engine (the menu the
            engine came from); needed when ``config.processes`` > 1 and the
            processes are spawned (see :func:`~trigger.runtime.multiproc.choose_start_method`).
            Implied when ``engine`` is a spec.

    Raises:
        ConfigError: If ``mapping`` names no mapping or is invalid.
        MenuError: ``engine`` is a spec whose menu does not compile.
        ModelError: ``engine`` is a spec whose models are missing or not the pinned files.
    """

    def __init__(
        self,
        engine: Engine | EngineSpec,
        out_dir: Path,
        *,
        config: ReplayConfig = ReplayConfig(),
        menu_name: str = "",
        on_incident: Callable[[QuarantineRecord], None] | None = None,
        mapping: EventMapping | str | Path | None = None,
        on_note: Callable[[str], None] | None = None,
        engine_spec: EngineSpec | None = None,
    ) -> None:
        if isinstance(engine, EngineSpec):
            self.engine_spec: EngineSpec | None = engine_spec or engine
            self.path_names, name = engine.check()  # a bad menu or model fails now, not in a child
            menu_name = menu_name or name
            self._engine: Engine | None = None
        else:
            self.engine_spec, self._engine, self.path_names = engine_spec, engine, tuple(engine.path_names)
        self.out_dir = Path(out_dir)
        self.config = config
        self.menu_name = menu_name
        self.on_incident = on_incident or (lambda rec: None)
        self.mapping = mapping if mapping is None or isinstance(mapping, EventMapping) else load_mapping(mapping)
        self.on_note = on_note or (lambda note: None)

    @property
    def engine(self) -> Engine:
        """The engine (built from the spec on first use when given one)."""
        if self._engine is None:
            self._engine = self.engine_spec()  # type: ignore[misc]
        return self._engine

    def run(self, inputs: list[str]) -> dict[str, Any]:
        """Replay ``inputs`` (paths, directories, globs) and return the summary.

        Bad files and bad events are quarantined and counted; the run goes on.

        Raises:
            ConfigError: If no input file exists at all.
        """
        cfg = self.config
        if cfg.tune_heap:
            keep_heap_warm()
        rec = RunRecorder(self.out_dir, path_names=self.path_names, menu_name=self.menu_name,
                          max_rows_per_file=cfg.max_rows_per_file)
        expanded = expand_inputs(inputs)
        if not expanded.files:
            raise ConfigError("no input files: " + "; ".join(str(e) for e in expanded.missing))
        for err in expanded.missing:
            self.on_incident(rec.record_unopenable(err.source or "", error=err))
        sources: list[Source] = []
        shards: dict[int, list[Shard]] = {}
        notes: list[str] = []
        for path in expanded.files:
            try:
                source = open_source(path, mapping=self.mapping)
                shards[len(sources)] = source.shards()
                sources.append(source)
            except InputError as err:
                self.on_incident(rec.record_unopenable(path, error=err))
                continue
            for note in source.notes:
                notes.append(f"{path}: {note}")
                self.on_note(notes[-1])
        pacer = Pacer(parse_rate(cfg.rate)) if cfg.rate else None
        all_shards = [s for ss in shards.values() for s in ss]
        total = sum(s.num_rows for s in all_shards)
        extra: dict[str, Any] = {
            "runtime": "local",
            "config": asdict(cfg),
            "inputs": expanded.files,
            "duplicate_inputs": expanded.duplicates,
            "input_notes": notes,
        }
        processes = cfg.engine_processes(len(all_shards))
        if processes > 1:
            details = replay_in_processes(
                processes=processes, engine=self._engine, engine_spec=self.engine_spec, sources=sources,
                shards=shards, recorder=rec, on_incident=self.on_incident, batch_size=cfg.batch_size,
                max_rows_per_file=cfg.max_rows_per_file, mapping=self.mapping, tune_heap=cfg.tune_heap,
                start_method=cfg.start_method,
                make_progress=lambda: ProgressReporter(total_events=total, enabled=cfg.progress))
            rec.add_bytes_written(details.pop("bytes_written"))
            return rec.close(shards=all_shards, extra={**extra, "engine_processes": details})
        engine = self.engine
        progress = ProgressReporter(total_events=total, enabled=cfg.progress)

        in_q: queue.Queue[Any] = queue.Queue(maxsize=cfg.queue_depth)
        out_q: queue.Queue[Any] = queue.Queue(maxsize=cfg.queue_depth + cfg.workers)
        failures: list[BaseException] = []
        stop = threading.Event()
        # Credits bound the batches alive at once (queues, engines, reorder buffer).
        credits = threading.Semaphore(cfg.max_in_flight)

        def unreadable(shard: Shard, row: int, batch_id: str, err: InputError) -> None:
            _put(out_q, ("unreadable", shard, row, batch_id, err), stop)

        def reader() -> None:
            try:
                batches = iter_batches(sources, shards, batch_size=cfg.batch_size, on_unreadable=unreadable)
                if pacer is not None:  # on schedule; a late batch (no credit) shows as lag on the next
                    batches = pacer.pace(batches)
                for seq, batch in enumerate(batches):
                    while not credits.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if not _put(in_q, (seq, batch), stop):
                        break
            except BaseException as exc:
                failures.append(exc)
            finally:
                for _ in range(cfg.workers):
                    _put(in_q, _DONE, stop)

        def worker() -> None:
            try:
                while (item := in_q.get()) is not _DONE:
                    seq, batch = item
                    outcome = engine.process(batch.data, batch_id=batch.batch_id, source=batch.source)
                    _put(out_q, ("outcome", seq, batch, outcome, time.time_ns()), stop)
            except BaseException as exc:
                failures.append(exc)
                stop.set()
            finally:
                _put(out_q, _DONE, stop)

        threads = [threading.Thread(target=reader, name="trigger-reader", daemon=True)]
        threads += [threading.Thread(target=worker, name=f"trigger-engine-{i}", daemon=True) for i in range(cfg.workers)]
        for t in threads:
            t.start()
        pending: dict[int, tuple[Any, ...]] = {}
        next_seq, done = 0, 0
        try:
            while done < cfg.workers and not (failures and stop.is_set()):
                item = out_q.get()
                if item is _DONE:
                    done += 1
                    continue
                if item[0] == "unreadable":
                    _, shard, row, batch_id, err = item
                    self.on_incident(rec.record_unreadable(shard, row_start=row, batch_id=batch_id, error=err))
                    continue
                _, seq, batch, outcome, decided_ns = item
                pending[seq] = (batch, outcome, decided_ns)
                while next_seq in pending:  # write in input order
                    b, o, t_ns = pending.pop(next_seq)
                    for incident in rec.record(b, o, decided_ns=t_ns):
                        self.on_incident(incident)
                    credits.release()
                    next_seq += 1
                progress.update(events=rec.events_in, kept=rec.kept, bytes_in=rec.bytes_in)
        except BaseException:
            stop.set()  # threads are daemons: they exit at their next queue operation
            progress.close()
            raise
        progress.close()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        if failures:
            raise failures[0]
        if pacer is not None:
            extra["pacing"] = pacer.summary()
        return rec.close(shards=all_shards, extra=extra)
