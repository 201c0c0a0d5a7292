"""Peers benchmark (issue 7): the engine against what others would write, same run, same file, one core.

Usage::

    python -m bench.peers --events 1000000 --repeats 5

Reads the same generated Arrow IPC file (memory-mapped) batch by batch with
the default menu, pinned to one core, in three implementations:

- ``engine``: :class:`~trigger.engine.Engine` (validation, features,
  decisions, kept rows per stream with trigger bits), reading through
  trigger's source;
- ``awkward``: the idiomatic awkward-array analysis of :mod:`.peer_awkward`
  (``ak.from_arrow`` of each batch, masks, ``ak.sum``, ``events[keep]``);
- ``strawman``: the per-event Python loop of :mod:`.strawman` over
  ``to_pylist()`` rows, on the first ``--strawman-events`` events (it is slow).

Each runs ``--repeats`` times, interleaved (so that load from other processes
hits all alike): median events/s with min and max, and CPU seconds per event.
Before any speed is compared, the path counts of the peers are checked
against the engine's on the same events. Writes ``bench/results/peers.json``.
The Ray Data ``map_batches`` peer is measured by :mod:`.farm_bench`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from trigger.cli.replay import load_engine
from trigger.io.sources import open_source

from .common import environment, write_results
from .peer_awkward import awkward_select
from .replay_bench import dataset
from .strawman import PATHS, strawman_counts

__all__ = ["awkward_pass", "engine_pass", "main", "strawman_pass"]

BATCH = 65_536
#: What one pass returns: events, path counts (menu order), events kept.
Pass = tuple[int, list[int], int]


def engine_pass(path: Path, *, batch_size: int = BATCH, max_events: int | None = None) -> Pass:
    """The engine over the file (or its first ``max_events`` events)."""
    engine, _ = load_engine(None)
    source = open_source(path)
    counts = [0] * len(engine.path_names)
    events = kept = 0
    for batch in _batches(lambda: (b for s in source.shards() for b in source.read(s, batch_size=batch_size)),
                          max_events):
        outcome = engine.process(batch, batch_id=str(events))
        counts = [c + int(n) for c, n in zip(counts, outcome.path_counts)]
        events += batch.num_rows
        kept += outcome.n_kept
    return events, counts, kept


def awkward_pass(path: Path, *, batch_size: int = BATCH, max_events: int | None = None) -> Pass:
    """The awkward peer over the file, read as a physicist would: ``pa.ipc.open_file`` on a memory map."""
    counts = [0] * len(PATHS)
    events = kept = 0
    for batch in _batches(lambda: _ipc_batches(path, batch_size), max_events):
        bits, kept_events = awkward_select(batch)
        counts = [c + int(n) for c, n in zip(counts, bits.sum(axis=0))]
        events += batch.num_rows
        kept += len(kept_events)
    return events, counts, kept


def strawman_pass(path: Path, *, batch_size: int = BATCH, max_events: int | None = None) -> Pass:
    """The per-event loop over the file's first ``max_events`` events."""
    counts = [0] * len(PATHS)
    events = kept = 0
    for batch in _batches(lambda: _ipc_batches(path, batch_size), max_events):
        c, k = strawman_counts(batch)
        counts = [a + b for a, b in zip(counts, c)]
        events += batch.num_rows
        kept += k
    return events, counts, kept


def _ipc_batches(path: Path, batch_size: int) -> Any:
    reader = pa.ipc.open_file(pa.memory_map(str(path), "r"))
    for i in range(reader.num_record_batches):
        batch = reader.get_batch(i)
        for offset in range(0, batch.num_rows, batch_size):
            yield batch.slice(offset, batch_size)


def _batches(make: Callable[[], Any], max_events: int | None) -> Any:
    """The batches of ``make()``, cut at ``max_events`` events."""
    left = max_events
    for batch in make():
        if left is not None:
            if left <= 0:
                return
            batch = batch.slice(0, left)
            left -= batch.num_rows
        yield batch


def _summary(runs: list[tuple[float, float]], events: int) -> dict[str, Any]:
    rates = [events / wall for wall, _ in runs]
    return {
        "events": events,
        "events_per_s": {"median": statistics.median(rates), "min": min(rates), "max": max(rates), "runs": len(runs)},
        "cpu_us_per_event": statistics.median(cpu for _, cpu in runs) / events * 1e6,
    }


def _pin_one_core() -> set[int]:
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    return before


def measure(path: Path, *, repeats: int, strawman_events: int, batch_size: int = BATCH) -> dict[str, Any]:
    """Check the peers agree with the engine, then time all three, interleaved, on one core."""
    impls: dict[str, tuple[Callable[..., Pass], int | None]] = {
        "engine": (engine_pass, None), "awkward": (awkward_pass, None), "strawman": (strawman_pass, strawman_events)}
    reference = engine_pass(path, batch_size=batch_size)
    sample_reference = engine_pass(path, batch_size=batch_size, max_events=strawman_events)
    agreement: dict[str, bool] = {}
    for name in ("awkward", "strawman"):
        fn, limit = impls[name]
        got = fn(path, batch_size=batch_size, max_events=limit)  # also the warm-up
        agreement[name] = got == (reference if limit is None else sample_reference)
        if not agreement[name]:
            print(f"WARNING: {name} disagrees with the engine: {got} vs {reference}")
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in impls}
    events: dict[str, int] = {}
    before = _pin_one_core()
    try:
        for _ in range(repeats):
            for name, (fn, limit) in impls.items():
                w0, c0 = time.perf_counter(), time.process_time()
                events[name] = fn(path, batch_size=batch_size, max_events=limit)[0]
                timings[name].append((time.perf_counter() - w0, time.process_time() - c0))
    finally:
        os.sched_setaffinity(0, before)
    peers = {name: _summary(runs, events[name]) for name, runs in timings.items()}
    engine_rate = peers["engine"]["events_per_s"]["median"]
    return {
        "peers": peers,
        "agrees_with_engine": agreement,
        "path_counts": dict(zip(PATHS, reference[1])),
        "events_kept": reference[2],
        "ratios": {f"engine_vs_{name}": engine_rate / peers[name]["events_per_s"]["median"]
                   for name in ("awkward", "strawman")},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--raw-bytes", type=int, default=0, help="opaque payload per event")
    ap.add_argument("--strawman-events", type=int, default=65_536)
    ap.add_argument("--batch-size", type=int, default=BATCH)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "trigger-bench")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    files = dataset(args.events, args.data_dir, raw_bytes=args.raw_bytes)
    result = {"events": args.events, "batch_size": args.batch_size, "raw_bytes_per_event": args.raw_bytes,
              "repeats": args.repeats, "file_format": "ipc", "cores": 1,
              **measure(files["ipc"], repeats=args.repeats, strawman_events=min(args.strawman_events, args.events),
                        batch_size=args.batch_size)}
    path = write_results("peers", result, **({"out_dir": args.out} if args.out else {}))
    print(f"machine: {environment()['cpu']}; one core; {args.events:,} events, batches of {args.batch_size:,}")
    print(f"{'implementation':<16}{'events/s':>14}{'min':>14}{'max':>14}{'CPU us/event':>14}  agrees")
    for name, r in result["peers"].items():
        rate = r["events_per_s"]
        agrees = result["agrees_with_engine"].get(name, True)
        print(f"{name:<16}{rate['median']:>14,.0f}{rate['min']:>14,.0f}{rate['max']:>14,.0f}"
              f"{r['cpu_us_per_event']:>14,.3f}  {agrees}")
    for k, v in result["ratios"].items():
        print(f"ratio {k:<24}{v:8.1f}")
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
