"""Farm benchmark (issue 5): the filter farm on Ray versus the local runtime and Ray Data.

Usage::

    python -m bench.farm_bench                 # full run, a few minutes on 2 cores
    python -m bench.farm_bench --quick --out /tmp/farm.json   # smoke run, tiny inputs

Prints and writes ``bench/results/farm.json`` (machine and versions included):

- throughput of the farm with 1 and 2 filter actors and their ratio, for the
  shipped default menu and (``--menus``) others; best of ``--repeats`` runs
  (this machine is shared: other load only ever slows a run down);
- the farm versus the local runtime versus an idiomatic Ray Data pipeline
  (``read_parquet -> map_batches(engine) -> write_parquet``) running the same
  engine on the same Parquet files; row counts are asserted equal;
- CPU per batch of each process role (filters, sink, source, driver, raylet)
  with 1 and 2 filters, the cores kept busy, and the most two filters could
  give over one on this machine's cores (Linux ``/proc``);
- per-batch control overhead: a no-op engine on small batches, farm versus local;
- decision latency (p50/p99) and deadtime versus offered load from 10% to 120%
  of the measured capacity, with the mean batch service time and, at 100% and
  above, the peak object-store memory sampled each second (bounded by credits;
  not sampled below capacity, where the sampling itself paused filters);
- the time from a load step to the pool reaching its new size (autoscaling,
  fake GPU resources on the local node, an engine that waits 50 ms per batch).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray

from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.runtime.local import LocalReplay, ReplayConfig
from trigger.runtime.ray import EngineSpec, FarmConfig, FarmReplay
from trigger.runtime.ray.engine_spec import Throttled

from .common import write_results
from .proc_cpu import cpu_by_role, split_per_batch


class NullEngine:
    """Decides nothing (every event rejected): isolates the per-batch control cost."""

    path_names = ("HLT_Null",)

    def process(self, batch: pa.RecordBatch, *, batch_id: str, source: str | None = None) -> Any:
        import numpy as np

        from trigger.engine.outcome import BatchOutcome

        n = batch.num_rows
        return BatchOutcome(batch_id, n, 0, n, 0, np.zeros(1, dtype=np.int64))


def null_factory() -> NullEngine:
    """An engine factory for :class:`NullEngine`."""
    return NullEngine()


def farm(factory: Any, files: list[str], out: Path, **config: Any) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    opts = {"progress": False, **config}
    on_window = opts.pop("on_window", None)
    backfill = opts.pop("backfill", ())
    return FarmReplay(factory, out, config=FarmConfig(**opts), menu_name="bench",
                      on_window=on_window).run(files, backfill=backfill)


def local(engine: Any, files: list[str], out: Path, *, batch_size: int, workers: int = 2) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    cfg = ReplayConfig(batch_size=batch_size, workers=workers, progress=False)
    return LocalReplay(engine, out, config=cfg, menu_name="bench").run(files)


class EngineUDF:
    """Ray Data ``map_batches`` callable: the engine's kept rows of every stream, with a ``stream`` column."""

    def __init__(self, spec: EngineSpec) -> None:
        self.engine = spec()
        self.n = 0

    def __call__(self, table: pa.Table) -> pa.Table:
        self.n += 1
        batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
        streams = self.engine.process(batch, batch_id=f"rd:{self.n}").streams if batch is not None else {}
        parts = [pa.Table.from_batches([b]).append_column("stream", pa.array([s] * b.num_rows, pa.string()))
                 for s, b in sorted(streams.items())]
        if parts:
            return pa.concat_tables(parts)
        bits = [pa.field(f"pass_{p}", pa.bool_()) for p in self.engine.path_names]  # the streams' schema, empty
        schema = pa.schema([*(f.with_nullable(True) for f in table.schema), *bits, pa.field("stream", pa.string())])
        return schema.empty_table()


def ray_data(spec: EngineSpec, parquet: list[str], out: Path, *, batch_size: int) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    blocks = sum(pq.ParquetFile(f).metadata.num_row_groups for f in parquet)  # one block per row group
    t0 = time.perf_counter()
    # Two engine actors at half a CPU each: with a whole CPU each they hold both cores' worth of
    # resources and the read and write tasks never get scheduled (a deadlock on 2 CPUs).
    ds = ray.data.read_parquet(parquet, override_num_blocks=blocks).map_batches(
        EngineUDF, fn_constructor_args=(spec,), batch_format="pyarrow", batch_size=batch_size,
        compute=ray.data.ActorPoolStrategy(size=2), num_cpus=0.5)
    ds.write_parquet(str(out))
    wall = time.perf_counter() - t0
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in out.rglob("*.parquet"))
    return {"wall_s": round(wall, 3), "kept_rows": rows}


def head_file(ipc: str, n: int, path: Path) -> str:
    """The first ``n`` events of an IPC file as a new IPC file (a shorter replay)."""
    reader = pa.ipc.open_file(pa.memory_map(ipc, "r"))
    with pa.OSFile(str(path), "wb") as fh, pa.ipc.new_file(fh, reader.schema) as writer:
        left = n
        for i in range(reader.num_record_batches):
            b = reader.get_batch(i).slice(0, max(left, 0))
            if b.num_rows:
                writer.write_batch(b)
            left -= b.num_rows
    return str(path)


def object_store_mib() -> float:
    """Object store (plasma) memory in use now, over all nodes (MiB)."""
    from ray._private.internal_api import memory_summary

    found = re.search(r"Plasma memory usage (\d+) MiB", memory_summary(stats_only=True))
    return float(found.group(1)) if found else 0.0


def best(runs: int, fn: Any) -> tuple[dict[str, Any], float]:
    """The run with the highest throughput of ``runs`` (the machine is shared: other load only slows a run)."""
    summaries = [fn() for _ in range(runs)]
    top = max(summaries, key=lambda s: s["throughput_events_per_s"])
    return top, top["throughput_events_per_s"]


def throughput_section(spec: EngineSpec, ipc: list[str], parquet: list[str], work: Path, batch: int,
                       n_events: int, repeats: int) -> dict[str, Any]:
    engine, _ = spec.load()
    out: dict[str, Any] = {"events": n_events, "batch_size": batch, "best_of": repeats}
    one, r1 = best(repeats, lambda: farm(spec, ipc, work / "f1", filters=1, batch_size=batch))
    two, r2 = best(repeats, lambda: farm(spec, ipc, work / "f2", filters=2, batch_size=batch))
    loc, rl = best(repeats, lambda: local(engine, ipc, work / "l", batch_size=batch))
    # Capacity for the latency sweep: the best rate the farm showed (1 or 2 filters).
    out["capacity_events_per_s"] = max(r1, r2)
    out["farm_1_filter_events_per_s"] = r1
    out["farm_2_filters_events_per_s"] = r2
    out["farm_ratio_2_vs_1"] = round(r2 / r1, 3)
    out["local_2_workers_events_per_s"] = rl
    assert one["paths"] == two["paths"] == loc["paths"], "runtimes disagree on the decisions"
    # Same Parquet files for all three: farm, local, Ray Data.
    fp, rfp = best(repeats, lambda: farm(spec, parquet, work / "fp", filters=2, batch_size=batch))
    lp, rlp = best(repeats, lambda: local(engine, parquet, work / "lp", batch_size=batch))
    rds = [ray_data(spec, parquet, work / "rd", batch_size=batch) for _ in range(repeats)]
    kept_rows = sum(fp["streams"].values())
    assert all(rd["kept_rows"] == kept_rows == sum(lp["streams"].values()) for rd in rds), (rds, kept_rows)
    rd_rate = n_events / min(rd["wall_s"] for rd in rds)
    out["parquet"] = {
        "farm_events_per_s": rfp, "local_events_per_s": rlp,
        "ray_data_events_per_s": round(rd_rate, 1), "kept_rows_each": kept_rows,
        "farm_vs_ray_data": round(rfp / rd_rate, 3),
        "farm_vs_local": round(rfp / rlp, 3),
    }
    out["farm_2_filters_summary"] = {k: two["farm"][k] for k in (
        "deadtime_fraction", "service_rate_events_per_s", "busy_fraction", "max_in_flight_per_filter", "startup_s",
        "transport")}
    out["parquet"]["farm_transport"] = fp["farm"]["transport"]
    return out


def _copies(path: str, n: int, where: Path) -> list[str]:
    """``n`` names for one file (hard links; copies where links fail): the farm reads a path once."""
    where.mkdir(parents=True, exist_ok=True)
    out = []
    for k in range(n):
        name = where / f"copy{k}-{Path(path).name}"
        if not name.exists():
            try:
                os.link(path, name)
            except OSError:
                shutil.copyfile(path, name)
        out.append(str(name))
    return out


def cpu_split_section(spec: EngineSpec, ipc: list[str], work: Path, *, batch: int,
                      copies: int) -> dict[str, Any] | None:
    """CPU per batch of each process role, with 1 and 2 filters (Linux ``/proc``; None elsewhere).

    Sampled at every 1 s control window; the split is taken between the first
    and the last window, so actor start-up and the drain at the end stay out.
    The input is read ``copies`` times (under other names) to give the runs
    several windows. ``ceiling_ratio_2_vs_1``: what two filters could reach at
    most on this machine's cores, all of them busy at the CPU per batch measured
    with two filters, over the rate measured with one.
    """
    if cpu_by_role() is None:
        return None
    files = [name for path in ipc for name in _copies(path, copies, work / "copies")]
    out: dict[str, Any] = {"cores": len(os.sched_getaffinity(0))}
    for n_filters in (1, 2):
        snaps: list[tuple[float, int, dict[str, float]]] = []

        def sample(ctl: Any, snaps: list[tuple[float, int, dict[str, float]]] = snaps) -> None:
            snaps.append((time.monotonic(), ctl.total_batches, cpu_by_role() or {}))

        farm(spec, files, work / f"cpu{n_filters}", filters=n_filters, batch_size=batch, on_window=sample)
        key = f"filters_{n_filters}"
        if len(snaps) < 2 or snaps[-1][1] <= snaps[0][1]:
            out[key] = None  # too short a run to leave start-up and drain out
            continue
        (t0, b0, c0), (t1, b1, c1) = snaps[0], snaps[-1]
        row = out[key] = {"batches": b1 - b0, **split_per_batch(c0, c1, batches=b1 - b0, wall_s=t1 - t0)}
        print(f"  {n_filters} filter(s): {row['batches_per_s']} batches/s, {row['cores_busy']} cores busy; CPU per "
              f"batch: filters {row['filters_ms_per_batch']} ms, sink {row['sink_ms_per_batch']}, source "
              f"{row['source_ms_per_batch']}, driver {row['driver_ms_per_batch']}, raylet "
              f"{row['raylet_ms_per_batch']}", flush=True)
    one, two = out.get("filters_1"), out.get("filters_2")
    if one and two:
        ceiling = out["cores"] * 1e3 / two["total_ms_per_batch"]
        out["ceiling_ratio_2_vs_1"] = round(ceiling / one["batches_per_s"], 3)
        print(f"  two filters could reach at most x{out['ceiling_ratio_2_vs_1']} of one on {out['cores']} cores",
              flush=True)
    return out


def overhead_section(ipc: list[str], work: Path, *, batch: int) -> dict[str, Any]:
    f = farm(null_factory, ipc, work / "null", filters=1, batch_size=batch)
    loc = local(NullEngine(), ipc, work / "nulll", batch_size=batch, workers=1)
    farm_ms = f["wall_s"] / f["batches"] * 1e3
    local_ms = loc["wall_s"] / loc["batches"] * 1e3
    return {"batch_size": batch, "batches": f["batches"], "farm_ms_per_batch": round(farm_ms, 3),
            "local_ms_per_batch": round(local_ms, 3), "control_overhead_ms_per_batch": round(farm_ms - local_ms, 3)}


def latency_section(spec: EngineSpec, ipc: list[str], work: Path, *, batch: int, capacity: float,
                    loads: list[float], seconds: float, n_events: int, repeats: int = 3) -> list[dict[str, Any]]:
    """Paced runs at each load; the run with the median p99 of ``repeats`` is reported, with the p99 spread.

    A paced run of ~60 batches has a p99 that is its worst batch or two: one run is
    a noisy estimate on a shared 2-core machine, the median of three much less so.
    """
    rows = []
    for load in loads:
        rate = load * capacity
        n = min(n_events, int(rate * seconds))
        files = [head_file(ipc[0], n, work / f"head{load}.arrow")]
        runs = []
        for _ in range(repeats):
            peak = {"mib": 0.0}

            def sample(_: Any, peak: dict[str, float] = peak) -> None:
                peak["mib"] = max(peak["mib"], object_store_mib())

            # Memory is sampled only above capacity, where boundedness is the question: a memory
            # summary asks every worker for its references and paused filters (p99 spikes).
            s = farm(spec, files, work / f"lat{load}", filters=2, batch_size=batch, rate=f"{rate:.0f}",
                     on_window=sample if load >= 1.0 else None)
            runs.append((s["latency_ms"]["p99"], s, peak["mib"]))
        runs.sort(key=lambda r: r[0])
        _, s, peak_mib = runs[len(runs) // 2]
        service_ms = s["farm"]["mean_batch_service_ms"]
        ratios = [r[0] / r[1]["farm"]["mean_batch_service_ms"] for r in runs]
        rows.append({"load": load, "rate_events_per_s": round(rate), "events": s["events_in"],
                     "events_target": n, "runs": repeats, "p50_ms": s["latency_ms"]["p50"],
                     "p99_ms": s["latency_ms"]["p99"], "p99_ms_runs": [r[0] for r in runs],
                     "mean_batch_service_ms": round(service_ms, 2),
                     "p99_over_service": round(s["latency_ms"]["p99"] / service_ms, 2),
                     "p99_over_service_runs": [round(x, 2) for x in ratios],
                     "deadtime_fraction": s["farm"]["deadtime_fraction"],
                     "behind_final_ms": s.get("pacing", {}).get("behind_final_ms"),
                     "max_in_flight_per_filter": s["farm"]["max_in_flight_per_filter"],
                     "credits_per_filter": s["config"]["credits"],
                     "peak_object_store_mib": peak_mib if load >= 1.0 else None,
                     "driver_peak_rss_mib": round(s["peak_rss_bytes"] / 2**20)})
        print(f"  load {load:.0%}: p50 {rows[-1]['p50_ms']} ms p99 {rows[-1]['p99_ms']} ms "
              f"(service {service_ms:.1f} ms; p99/service over {repeats} runs "
              f"{', '.join(f'{x:.1f}' for x in ratios)}) deadtime {rows[-1]['deadtime_fraction']:.1%}", flush=True)
    return rows


def backfill_section(spec: EngineSpec, ipc: list[str], parquet: list[str], work: Path, *, batch: int,
                     capacity: float, n_live: int) -> dict[str, Any]:
    live = [head_file(ipc[0], n_live, work / "live.arrow")]
    rate = f"{0.5 * capacity:.0f}"
    alone = farm(spec, live, work / "bf0", filters=2, batch_size=batch, rate=rate)
    # The budget is the live p99 without backfill: backfill pauses whenever a window's live p99 exceeds it
    # by more than the margin.
    budget, margin = alone["latency_ms"]["p99"], 50.0
    both = farm(spec, live, work / "bf1", filters=2, batch_size=batch, rate=rate, backfill=tuple(parquet),
                latency_budget_ms=budget, backfill_margin_ms=margin)
    return {"live_rate_events_per_s": round(0.5 * capacity), "live_events": n_live,
            "live_p99_ms_alone": alone["latency_ms"]["p99"], "live_p99_ms_with_backfill": both["latency_ms"]["p99"],
            "live_p50_ms_alone": alone["latency_ms"]["p50"], "live_p50_ms_with_backfill": both["latency_ms"]["p50"],
            "backfill_events": both["farm"]["backfill"]["events_in"], "budget_ms": budget, "margin_ms": margin,
            "busy_fraction_alone": alone["farm"]["busy_fraction"],
            "busy_fraction_with_backfill": both["farm"]["busy_fraction"],
            "wall_s_alone": alone["wall_s"], "wall_s_with_backfill": both["wall_s"]}


def step_section(files: list[str], work: Path) -> dict[str, Any]:
    grown: dict[str, float] = {}

    def watch(ctl: Any) -> None:
        w = ctl.last_window
        if w["pool"]["ready"] >= 3 and "t_s" not in grown:
            grown["t_s"] = w["t_s"]

    slow = Throttled(EngineSpec.from_menu(None), 0.05)  # 1000 events per 50 ms: 20k ev/s per filter
    s = farm(slow, files, work / "step-out", filters=1, min_filters=1, max_filters=3, cpus_per_filter=0,
             gpus_per_filter=1, batch_size=1000, rate="4kHz", rate_steps=((3.0, "40kHz"),), latency_budget_ms=500,
             on_window=watch)
    ups = [e for e in s["farm"]["scaling_events"] if e["delta"] > 0]
    return {"step_at_s": 3.0, "decisions": ups, "pool_full_at_s": grown.get("t_s"),
            "step_to_full_pool_s": round(grown["t_s"] - 3.0, 2) if grown else None,
            "note": "fake GPU resources on the local node: actor start only, no node start "
                    "(tests/test_farm_autoscaling.py measures node starts)"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=4_000_000)
    ap.add_argument("--batch-size", type=int, default=65_536)
    ap.add_argument("--menus", nargs="*", default=[], help="more menus to measure 1 vs 2 filters with")
    ap.add_argument("--repeats", type=int, default=2, help="throughput runs per figure, best kept (default 2)")
    ap.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    ap.add_argument("--out", type=Path, default=None, help="JSON output (default bench/results/farm.json)")
    args = ap.parse_args(argv)
    n, batch = (20_000, 2_000) if args.quick else (args.events, args.batch_size)
    if args.quick:
        args.repeats = 1
    work = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    try:
        ipc = [str(p) for p in write_dataset(n, work / "ipc", config=GeneratorConfig(seed=5), formats=("ipc",))]
        parquet = [str(p) for p in write_dataset(n, work / "pq", config=GeneratorConfig(seed=5),
                                                 formats=("parquet",), row_group_size=batch)]
        step_files = [str(p) for p in write_dataset(40_000 if args.quick else 400_000, work / "step",
                                                    config=GeneratorConfig(seed=6), formats=("ipc",))]
        ray.init(num_cpus=2, num_gpus=4, include_dashboard=False, logging_level="ERROR")
        spec = EngineSpec.from_menu(None)
        results: dict[str, Any] = {"quick": args.quick}
        print("throughput ...", flush=True)
        results["throughput"] = throughput_section(spec, ipc, parquet, work, batch, n, args.repeats)
        print("CPU per process role ...", flush=True)
        results["cpu_split"] = cpu_split_section(spec, ipc, work, batch=batch,
                                                 copies=50 if args.quick else max(1, 30_000_000 // n))
        def one_vs_two(factory: Any) -> dict[str, Any]:
            r1 = best(args.repeats, lambda: farm(factory, ipc, work / "m1", filters=1, batch_size=batch))[1]
            r2 = best(args.repeats, lambda: farm(factory, ipc, work / "m2", filters=2, batch_size=batch))[1]
            return {"farm_1_filter_events_per_s": r1, "farm_2_filters_events_per_s": r2,
                    "farm_ratio_2_vs_1": round(r2 / r1, 3)}

        results["menus"] = {menu: one_vs_two(EngineSpec.from_menu(menu)) for menu in args.menus}
        results["accelerator_bound"] = {
            "note": "engine waits per batch off the CPU (as on a GPU): scaling without CPU contention",
            **one_vs_two(Throttled(spec, 0.05 if args.quick else 0.1))}
        print("control overhead ...", flush=True)
        results["control_overhead"] = overhead_section(ipc, work, batch=1_000 if not args.quick else 500)
        print("latency vs load ...", flush=True)
        # Ray Data leaves its own actors running (stats, autoscaling coordinator); on 2 cores their
        # wake-ups show in the farm's p99. The latency runs start on a fresh local cluster.
        ray.shutdown()
        ray.init(num_cpus=2, num_gpus=4, include_dashboard=False, logging_level="ERROR")
        capacity = results["throughput"]["capacity_events_per_s"]
        loads = [0.1, 0.5, 1.2] if args.quick else [0.1, 0.3, 0.5, 0.8, 1.0, 1.2]
        results["latency_vs_load"] = latency_section(spec, ipc, work, batch=batch, capacity=capacity, loads=loads,
                                                     seconds=2.0, n_events=n, repeats=1 if args.quick else 3)
        print("backfill ...", flush=True)
        results["backfill"] = backfill_section(spec, ipc, parquet, work, batch=batch, capacity=capacity,
                                               n_live=min(n, int(capacity)))
        print("load step ...", flush=True)
        results["load_step"] = step_section(step_files, work)
        path = write_results("farm", results, out_dir=args.out.parent if args.out else
                             Path(__file__).resolve().parent / "results")
        if args.out and path != args.out:
            path.replace(args.out)
            path = args.out
        print(f"wrote {path}")
        t = results["throughput"]
        print(f"farm 1 filter {t['farm_1_filter_events_per_s']:,.0f} ev/s, 2 filters "
              f"{t['farm_2_filters_events_per_s']:,.0f} ev/s (x{t['farm_ratio_2_vs_1']}); local "
              f"{t['local_2_workers_events_per_s']:,.0f} ev/s; parquet: farm/ray-data x{t['parquet']['farm_vs_ray_data']}")
        return 0
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
