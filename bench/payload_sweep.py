"""Payload sweep (issue 7): filter cost per event versus the raw payload size, 0 B to 1 MB.

Usage::

    python -m bench.payload_sweep --sizes 0,1k,10k,100k,1M --repeats 3

The ``raw`` column stands for the full detector readout. The engine never
parses it and copies it only for kept events (``RecordBatch.take`` per
stream), so the cost of deciding on an event must not grow with its payload;
only the copy of kept events does, in proportion to the kept bytes.

For each size N the generator writes an Arrow IPC file (memory-mapped when
read) with N bytes of payload per event; big payloads get fewer events
(``--max-bytes`` of payload per file, whole batches, at least one), so the disk
holds one file at a time, deleted after its point. Every point uses the same
batch size, so per-batch costs weigh the same. One core, per point (median of
``--repeats`` passes over the file):

- ``decide_us_per_event``: validation + features + menu decisions (what every
  event, kept or rejected, costs): flat;
- ``engine_us_per_event``: :meth:`Engine.process` in full (adds the kept rows
  per stream, payload included);
- ``read_us_per_event``: reading the batches from the memory-mapped file;
- ``copied_bytes_per_event`` and ``copy_bytes_per_s``: payload copied for kept
  events, and how fast (engine minus decide time), the figure ``trigger plan``
  uses for the cost of kept bytes.

Writes ``bench/results/payload.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from trigger.cli.replay import load_engine
from trigger.features.frame import FeatureFrame
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.io.sources import open_source
from trigger.plan.units import parse_bytes
from trigger.schema import find_bad_events

from .common import environment, write_results

__all__ = ["events_for", "main", "measure_point", "parse_sizes"]

DEFAULT_SIZES = "0,1k,10k,100k,1M"
#: Copy rates are reported only where the copy is large enough to time.
MIN_COPY_BYTES_TIMED = 50e6


def parse_sizes(text: str) -> list[int]:
    """``0,1k,10k,100k,1M`` -> bytes (``k``/``M`` are x1000: payloads are decimal here)."""
    sizes = []
    for item in text.split(","):
        item = item.strip()
        if item in ("0", "0B"):
            sizes.append(0)
            continue
        unit = item if item[-1:].upper() == "B" else item + "B"
        sizes.append(int(parse_bytes(unit, what="payload size")))
    return sorted(set(sizes))


def events_for(size_bytes: int, *, events: int, max_bytes: float, batch_size: int) -> int:
    """Events for one point: ``events``, fewer for big payloads (``max_bytes`` on disk).

    Whole batches only (at least one), so that every point has batches of the same size.
    """
    n = events if size_bytes == 0 else min(events, int(max_bytes // size_bytes))
    return max(batch_size, n // batch_size * batch_size)


def _one_pass(path: Path, engine: Any, batch_size: int) -> dict[str, float]:
    """One pass over the file: seconds reading, deciding, in the full engine; bytes kept."""
    menu = engine.menu
    source = open_source(path)
    t = {"read_s": 0.0, "decide_s": 0.0, "engine_s": 0.0, "events": 0, "kept": 0, "copied_bytes": 0}
    batches = (b for s in source.shards() for b in source.read(s, batch_size=batch_size))
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        t1 = time.perf_counter()
        if batch is None:
            break
        # The decision alone, as the engine makes it (every event pays this).
        bad = find_bad_events(batch).bad
        frame = FeatureFrame(batch)
        bits = menu.evaluate(frame) & ~bad[:, None]
        t2 = time.perf_counter()
        outcome = engine.process(batch, batch_id=str(t["events"]))
        t3 = time.perf_counter()
        t["read_s"] += t1 - t0
        t["decide_s"] += t2 - t1
        t["engine_s"] += t3 - t2
        t["events"] += batch.num_rows
        t["kept"] += int(bits.any(axis=1).sum())
        t["copied_bytes"] += sum(b.nbytes for b in outcome.streams.values())
    return t


def measure_point(path: Path, *, repeats: int, batch_size: int) -> dict[str, Any]:
    """Median per-event costs over ``repeats`` passes (after one warm-up pass), pinned to one core.

    Args:
        path: An Arrow IPC file of generated events.
        repeats: Timed passes.
        batch_size: Events per batch.

    Returns:
        Events, kept, per-event microseconds (read, decide with spread, engine), copied
        bytes per event, and the copy rate (None when too few bytes were copied to time).
    """
    engine, _ = load_engine(None)
    _one_pass(path, engine, batch_size)  # warm-up: page cache, menu memo
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        runs = [_one_pass(path, engine, batch_size) for _ in range(repeats)]
    finally:
        os.sched_setaffinity(0, before)
    n = runs[0]["events"]
    med = {k: statistics.median(r[k] for r in runs) for k in ("read_s", "decide_s", "engine_s")}
    copy_s = max(med["engine_s"] - med["decide_s"], 1e-12)
    copied = runs[0]["copied_bytes"]
    return {
        "events": n, "kept": runs[0]["kept"], "kept_fraction": runs[0]["kept"] / n,
        "read_us_per_event": med["read_s"] / n * 1e6,
        "decide_us_per_event": med["decide_s"] / n * 1e6,
        "decide_us_per_event_spread": [min(r["decide_s"] for r in runs) / n * 1e6,
                                       max(r["decide_s"] for r in runs) / n * 1e6],
        "engine_us_per_event": med["engine_s"] / n * 1e6,
        "copied_bytes_per_event": copied / n,
        "copy_bytes_per_s": copied / copy_s if copied >= MIN_COPY_BYTES_TIMED else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sweep and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=DEFAULT_SIZES, help=f"payload bytes per event (default {DEFAULT_SIZES})")
    ap.add_argument("--events", type=int, default=200_000, help="events per point (fewer for big payloads)")
    ap.add_argument("--max-bytes", type=float, default=3e9, help="payload bytes per file at most (disk)")
    ap.add_argument("--batch-size", type=int, default=2_048,
                    help="events per batch, the same at every point (each point has at least one batch)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "trigger-bench")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    sizes = parse_sizes(args.sizes)
    points = []
    for size in sizes:
        n = events_for(size, events=args.events, max_bytes=args.max_bytes, batch_size=args.batch_size)
        target = args.data_dir / f"payload-{n}-raw{size}"
        free = shutil.disk_usage(args.data_dir.parent if not args.data_dir.exists() else args.data_dir).free
        if n * size > 0.8 * free:
            raise SystemExit(f"payload sweep: {n:,} events x {size:,} B needs {n * size / 1e9:.1f} GB; only "
                             f"{free / 1e9:.1f} GB free under {args.data_dir}: lower --max-bytes")
        t0 = time.perf_counter()
        write_dataset(n, target, config=GeneratorConfig(seed=2026, raw_bytes_per_event=size), formats=("ipc",),
                      batch_size=args.batch_size)
        generated_s = time.perf_counter() - t0
        try:
            point = measure_point(target / "events.arrow", repeats=args.repeats, batch_size=args.batch_size)
        finally:
            shutil.rmtree(target, ignore_errors=True)
        points.append({"raw_bytes_per_event": size, "generated_s": round(generated_s, 2), **point})
        print(f"{size:>9,} B/event {n:>9,} events: decide {point['decide_us_per_event']:.3f} us/event, "
              f"engine {point['engine_us_per_event']:.3f} us/event, copied "
              f"{point['copied_bytes_per_event'] / 1e3:,.1f} kB/event")
    decide = [p["decide_us_per_event"] for p in points]
    copy_rates = [p["copy_bytes_per_s"] for p in points if p["copy_bytes_per_s"]]
    result = {
        "batch_size": args.batch_size, "repeats": args.repeats, "cores": 1, "file_format": "ipc", "points": points,
        "decide_max_over_min": max(decide) / min(decide),
        "copy_bytes_per_s": statistics.median(copy_rates) if copy_rates else None,
    }
    path = write_results("payload", result, **({"out_dir": args.out} if args.out else {}))
    print(f"machine: {environment()['cpu']}; decide cost max/min over the sweep: "
          f"{result['decide_max_over_min']:.2f} (flat is 1.0)")
    if result["copy_bytes_per_s"]:
        print(f"kept payload copied at {result['copy_bytes_per_s'] / 1e9:.2f} GB/s per core")
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
