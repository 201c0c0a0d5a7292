"""Local replay benchmark (issue 2): stages, end to end on 1 and 2 cores, versus a per-event loop.

Usage::

    python -m bench.replay_bench --events 10000000 --repeats 3

Prints and writes ``bench/results/replay.json``:

- per stage on one core (read IPC, read Parquet, validate, features,
  decisions, write): events/s;
- "back to back": 1 / sum(1/rate) of the stages, the rate a single thread
  doing one stage after the other would reach;
- end to end (``LocalReplay``) pinned to one core and to two cores, from IPC
  and from Parquet, median of ``--repeats`` runs with min/max; on two cores
  both as engine threads (``2core``) and as engine processes (``2proc``,
  ``trigger replay --processes 2``);
- the strawman (a per-event Python loop over ``to_pylist()``, see
  :mod:`bench.strawman`) on a sample, after checking its path counts equal
  the engine's on the same events.
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
from trigger.engine.spec import EngineSpec
from trigger.features.frame import FeatureFrame
from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.io.sinks import StreamSinks
from trigger.io.sources import open_source
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.schema import find_bad_events

from .common import environment, write_results
from .strawman import PATHS, strawman_counts

BATCH = 65_536


def dataset(n_events: int, data_dir: Path, *, raw_bytes: int) -> dict[str, Path]:
    """Generate (once, cached) the benchmark's IPC and Parquet files."""
    target = data_dir / f"replay-{n_events}-raw{raw_bytes}"
    files = {"ipc": target / "events.arrow", "parquet": target / "events.parquet"}
    if not all(p.exists() for p in files.values()):
        t0 = time.perf_counter()
        write_dataset(n_events, target, config=GeneratorConfig(seed=2026, raw_bytes_per_event=raw_bytes),
                      formats=("parquet", "ipc"), batch_size=BATCH, row_group_size=BATCH)
        print(f"generated {n_events:,} events in {time.perf_counter() - t0:.1f} s into {target}")
    return files


def _pin(cores: int) -> None:
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0) | set(range(os.cpu_count() or 1)))[:cores]))


def stages(files: dict[str, Path]) -> dict[str, float]:
    """Seconds per stage over the whole file, one thread on one core."""
    engine, _ = load_engine(None)
    menu = engine.menu
    t: dict[str, float] = dict.fromkeys(
        ("read_ipc", "read_parquet", "validate", "features", "engine", "decisions", "write"), 0.0)
    for fmt in ("ipc", "parquet"):
        src = open_source(files[fmt])
        t0 = time.perf_counter()
        for shard in src.shards():
            for _ in src.read(shard, batch_size=BATCH):
                pass
        t[f"read_{fmt}"] = time.perf_counter() - t0
    src = open_source(files["ipc"])
    out = Path(tempfile.mkdtemp(prefix="trigger-bench-"))
    sinks = StreamSinks(out)
    for shard in src.shards():
        for batch in src.read(shard, batch_size=BATCH):
            t0 = time.perf_counter()
            find_bad_events(batch)
            t1 = time.perf_counter()
            frame = FeatureFrame(batch)  # informational: every menu feature on every event
            for name in sorted(menu.features):
                frame[name]
            t2 = time.perf_counter()
            # What the engine does after validation: seeds on every event, cuts (and the
            # features only they read) on the seed survivors, then the stream selection.
            outcome = engine.process(batch, batch_id="bench")
            t3 = time.perf_counter()
            for s, b in outcome.streams.items():
                sinks.write(s, b)
            t4 = time.perf_counter()
            t["validate"] += t1 - t0
            t["features"] += t2 - t1
            t["engine"] += t3 - t2
            t["write"] += t4 - t3
    t0 = time.perf_counter()
    sinks.close()
    t["write"] += time.perf_counter() - t0
    # engine.process validates too; what is left is features + decisions + selection.
    t["decisions"] = max(t.pop("engine") - t["validate"], 0.0)
    shutil.rmtree(out)
    return t


def end_to_end(path: Path, *, workers: int, processes: int = 1) -> tuple[float, dict[str, Any]]:
    """One LocalReplay run (``workers`` engine threads, or ``processes`` engine processes); returns (events/s, summary)."""
    engine, name = load_engine(None)
    out = Path(tempfile.mkdtemp(prefix="trigger-bench-"))
    try:
        t0 = time.perf_counter()
        config = ReplayConfig(batch_size=BATCH, workers=workers, processes=processes, progress=False)
        summary = LocalReplay(engine, out, config=config, menu_name=name,
                              engine_spec=EngineSpec.from_menu(None)).run([str(path)])
        rate = summary["events_in"] / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(out)
    return rate, summary


def strawman(path: Path, n_sample: int) -> dict[str, Any]:
    """The per-event loop on the first ``n_sample`` events, checked against the engine."""
    src = open_source(path)
    batch = next(src.read(src.shards()[0], batch_size=n_sample))
    engine, _ = load_engine(None)
    outcome = engine.process(batch, batch_id="sample")
    t0 = time.perf_counter()
    counts, kept = strawman_counts(batch)
    elapsed = time.perf_counter() - t0
    agree = list(outcome.path_counts) == counts and outcome.n_kept == kept
    if not agree:
        print("WARNING: strawman and engine disagree:", dict(zip(PATHS, counts)), list(outcome.path_counts))
    return {"events": batch.num_rows, "events_per_s": batch.num_rows / elapsed, "agrees_with_engine": agree}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--raw-bytes", type=int, default=0)
    ap.add_argument("--strawman-events", type=int, default=65_536)
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "trigger-bench")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    files = dataset(args.events, args.data_dir, raw_bytes=args.raw_bytes)
    all_cores = len(os.sched_getaffinity(0))
    n = args.events

    _pin(1)
    stage_runs = [stages(files) for _ in range(args.repeats)]
    stage_s = {k: statistics.median(r[k] for r in stage_runs) for k in stage_runs[0]}
    stage_rate = {k: n / v for k, v in stage_s.items()}
    # "features" (every menu feature on every event) is shown for information; the
    # engine computes features lazily inside "decisions", so it is not added twice.
    back_to_back = {fmt: n / (stage_s[f"read_{fmt}"] + sum(stage_s[k] for k in ("validate", "decisions", "write")))
                    for fmt in ("ipc", "parquet")}
    e2e: dict[str, dict[str, Any]] = {}
    for cores in sorted({1, min(2, all_cores)}):
        _pin(cores)
        for fmt in ("ipc", "parquet"):
            rates = [end_to_end(files[fmt], workers=cores)[0] for _ in range(args.repeats)]
            e2e[f"{fmt}_{cores}core"] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
            if cores > 1:  # the same cores as engine processes (trigger replay --processes N)
                rates = [end_to_end(files[fmt], workers=1, processes=cores)[0] for _ in range(args.repeats)]
                e2e[f"{fmt}_{cores}proc"] = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
    _pin(1)
    straw = strawman(files["ipc"], args.strawman_events)
    _pin(all_cores)

    ratios = {}
    for fmt in ("ipc", "parquet"):
        one = e2e[f"{fmt}_1core"]["median"]
        ratios[f"{fmt}_1core_vs_back_to_back"] = one / back_to_back[fmt]
        if f"{fmt}_2core" in e2e:
            ratios[f"{fmt}_2core_vs_1core"] = e2e[f"{fmt}_2core"]["median"] / one
            ratios[f"{fmt}_2proc_vs_1core"] = e2e[f"{fmt}_2proc"]["median"] / one
        ratios[f"{fmt}_1core_vs_strawman"] = one / straw["events_per_s"]
    result = {
        "events": n, "batch_size": BATCH, "raw_bytes_per_event": args.raw_bytes, "repeats": args.repeats,
        "stage_seconds": stage_s, "stage_events_per_s": stage_rate, "back_to_back_events_per_s": back_to_back,
        "end_to_end_events_per_s": e2e, "strawman": straw, "ratios": ratios,
        "goals": {"1core_vs_back_to_back": 0.9, "2core_vs_1core": 1.8, "2proc_vs_1core": 1.8, "1core_vs_strawman": 50},
    }
    path = write_results("replay", result, **({"out_dir": args.out} if args.out else {}))
    print(f"machine: {environment()['cpu']}, {all_cores} cores usable")
    print(f"{'stage (1 core)':<22}{'events/s':>14}")
    for k, v in stage_rate.items():
        print(f"{k:<22}{v:>14,.0f}")
    for k, v in back_to_back.items():
        print(f"{'back-to-back ' + k:<22}{v:>14,.0f}")
    for k, v in e2e.items():
        print(f"{'end-to-end ' + k:<22}{v['median']:>14,.0f}   (min {v['min']:,.0f}, max {v['max']:,.0f})")
    print(f"{'strawman loop':<22}{straw['events_per_s']:>14,.0f}   (agrees with engine: {straw['agrees_with_engine']})")
    for k, v in ratios.items():
        print(f"ratio {k:<32}{v:8.2f}")
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
