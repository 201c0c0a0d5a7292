"""I/O benchmark (issue 4): reading the same generated events from Parquet, Arrow IPC and ROOT.

Usage::

    python -m bench.io_bench --events 10000000 --repeats 3 --raw-bytes 256

Writes the same events once (cached under ``--data-dir``) as Parquet (zstd),
an Arrow IPC file and an IPC stream (uncompressed, memory-mapped) and a
NanoAOD-like ROOT file (uproot, zlib level 1; ROOT gets no ``raw`` payload),
then reads each through its :class:`~trigger.io.sources.Source`, one thread,
and prints and writes ``bench/results/io.json``:

- events/s and MB/s (in-memory Arrow bytes of the batches produced, and file
  bytes), per wall second and per CPU second (= per core: the reader is one
  thread), median of ``--repeats`` runs;
- for IPC, the Arrow memory allocated while reading, per event (peak of
  ``pa.total_allocated_bytes`` over the read, divided by the events): a
  zero-copy read allocates nothing for the payload, whatever ``--raw-bytes``;
- the ROOT source (uproot + the ``cms_nanoaod`` mapping to event-model
  batches) against plain ``uproot.iterate`` of the same branches into awkward
  arrays on the same file: what the mapping costs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig, generate_batches
from trigger.io.mapping import load_mapping
from trigger.io.root import RootSource
from trigger.io.root_write import write_nanoaod
from trigger.io.sources import open_source

from .common import environment, write_results

BATCH = 65_536


def dataset(n_events: int, data_dir: Path, *, raw_bytes: int, root_compression: str) -> dict[str, Path]:
    """Generate (once, cached) the same events in every format."""
    target = data_dir / f"io-{n_events}-raw{raw_bytes}-{root_compression}"
    files = {"parquet": target / "events.parquet", "ipc": target / "events.arrow",
             "ipc-stream": target / "events.arrows", "root": target / "events.root"}
    config = GeneratorConfig(seed=2026, raw_bytes_per_event=raw_bytes)
    if not (files["parquet"].exists() and files["ipc"].exists()):
        t0 = time.perf_counter()
        write_dataset(n_events, target, config=config, formats=("parquet", "ipc"), batch_size=BATCH,
                      row_group_size=BATCH)
        print(f"wrote Parquet and IPC: {n_events:,} events in {time.perf_counter() - t0:.1f} s")
    if not files["ipc-stream"].exists():
        reader = pa.ipc.open_file(pa.memory_map(str(files["ipc"])))
        with pa.OSFile(str(files["ipc-stream"]) + ".tmp", "wb") as sink, pa.ipc.new_stream(sink, reader.schema) as w:
            for i in range(reader.num_record_batches):
                w.write_batch(reader.get_batch(i))
        Path(str(files["ipc-stream"]) + ".tmp").rename(files["ipc-stream"])
    if not files["root"].exists():
        t0 = time.perf_counter()
        tmp = files["root"].with_suffix(".root.tmp")
        write_nanoaod(generate_batches(n_events, config=config, batch_size=BATCH), tmp,
                      compression=None if root_compression == "none" else root_compression)
        tmp.rename(files["root"])
        print(f"wrote ROOT: {n_events:,} events in {time.perf_counter() - t0:.1f} s")
    return files


def _timed(fn: Callable[[], tuple[int, int, int]]) -> dict[str, float]:
    """Run ``fn`` (returns events, Arrow bytes, peak allocated bytes); wall and CPU time."""
    w0, c0 = time.perf_counter(), time.process_time()
    events, nbytes, peak = fn()
    return {"events": events, "arrow_bytes": nbytes, "peak_alloc_bytes": peak,
            "wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}


def read_source(path: Path) -> tuple[int, int, int]:
    """Read every shard through the source; count events, Arrow bytes and peak Arrow allocation."""
    source = open_source(path)
    base = pa.total_allocated_bytes()
    events = nbytes = peak = 0
    for shard in source.shards():
        for batch in source.read(shard, batch_size=BATCH):
            events += batch.num_rows
            nbytes += batch.nbytes
            peak = max(peak, pa.total_allocated_bytes() - base)
            del batch  # keep at most one batch alive, so the peak is one batch's allocation
    return events, nbytes, peak


def read_uproot(path: Path, branches: list[str]) -> tuple[int, int, int]:
    """Plain uproot.iterate of the branches the mapping reads, into awkward arrays (no mapping)."""
    import uproot

    wanted = set(branches)
    events = nbytes = 0
    for arrays in uproot.iterate(f"{path}:Events", filter_name=lambda b: b in wanted, step_size=BATCH,
                                 library="ak", how=dict):
        events += len(next(iter(arrays.values())))
        nbytes += sum(a.nbytes for a in arrays.values())
    return events, nbytes, 0


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    out["events_per_s"] = out["events"] / out["wall_s"]
    out["events_per_cpu_s"] = out["events"] / out["cpu_s"]
    out["arrow_mb_per_s"] = out["arrow_bytes"] / out["wall_s"] / 1e6
    out["alloc_bytes_per_event"] = out["peak_alloc_bytes"] / min(out["events"], BATCH)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000, help="events (the reference run uses 10,000,000)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--raw-bytes", type=int, default=256, help="opaque payload per event (not in ROOT)")
    ap.add_argument("--root-compression", choices=("zlib", "none"), default="zlib")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "trigger-bench")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    files = dataset(args.events, args.data_dir, raw_bytes=args.raw_bytes, root_compression=args.root_compression)
    formats: dict[str, dict[str, Any]] = {}
    for fmt, path in files.items():
        read_source(path)  # warm the page cache: every format is read from memory
        formats[fmt] = _median([_timed(lambda p=path: read_source(p)) for _ in range(args.repeats)])
        formats[fmt]["file_bytes"] = path.stat().st_size
        formats[fmt]["file_mb_per_s"] = path.stat().st_size / formats[fmt]["wall_s"] / 1e6
    root = RootSource(str(files["root"]), mapping=load_mapping("cms_nanoaod"))
    branches = list(root.bound().branches)
    plain = _median([_timed(lambda: read_uproot(files["root"], branches)) for _ in range(args.repeats)])
    result = {
        "events": args.events, "batch_size": BATCH, "raw_bytes_per_event": args.raw_bytes,
        "root_compression": args.root_compression, "repeats": args.repeats, "formats": formats,
        "root_vs_uproot": {"uproot_iterate": plain, "source_over_uproot": formats["root"]["events_per_s"]
                           / plain["events_per_s"], "branches": len(branches)},
    }
    path = write_results("io", result, **({"out_dir": args.out} if args.out else {}))
    env = environment()
    print(f"machine: {env['cpu']}, {env['cpus_usable']} cores usable; {args.events:,} events, "
          f"{args.raw_bytes} raw bytes/event, batches of {BATCH:,}")
    print(f"{'format':<12}{'events/s':>14}{'ev/s/core':>14}{'Arrow MB/s':>12}{'file MB/s':>11}"
          f"{'file MB':>10}{'alloc B/ev':>12}")
    for fmt, r in formats.items():
        print(f"{fmt:<12}{r['events_per_s']:>14,.0f}{r['events_per_cpu_s']:>14,.0f}{r['arrow_mb_per_s']:>12,.1f}"
              f"{r['file_mb_per_s']:>11,.1f}{r['file_bytes'] / 1e6:>10,.1f}{r['alloc_bytes_per_event']:>12,.1f}")
    print(f"{'uproot.iterate':<12}{plain['events_per_s']:>14,.0f}{plain['events_per_cpu_s']:>14,.0f}"
          f"   (same {len(branches)} branches, awkward arrays, no mapping)")
    print(f"ROOT source / plain uproot.iterate: {result['root_vs_uproot']['source_over_uproot']:.2f}")
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
