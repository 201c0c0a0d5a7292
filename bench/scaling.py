"""Control-plane scaling (issue 7): the driver's work per batch as sources and filters are added.

Usage::

    python -m bench.scaling --points 1x1,2x2,4x4,8x8 --rates 40kHz,120kHz,200kHz --step-seconds 4

The design claim: no component on the data path is central. Sources send
batches (object references) straight to filter actors and filters hand kept
rows to sinks; the driver only polls each source for the small result records
of finished batches, writes the ledger and sizes the pool. So the driver's
work per batch should stay flat as sources and filters are added.

Each point ``SxF`` runs a farm (:class:`~trigger.runtime.ray.FarmReplay`) with
S source actors and F filter actors on one local Ray instance, paced at the
same load steps (``--rates``, each ``--step-seconds`` long), filters sharing
the CPUs (``cpus_per_filter = cpus / max F``). At each 1 s control window
(after the first) it samples the driver process's CPU time (its main loop and
Ray's threads in it: everything the driver does) and the batches recorded. A
line through (batches/s, driver CPU s/s) over the windows separates the CPU
per batch (the slope: what the claim is about) from the fixed CPU per second
(the intercept: polling every source each ``tick_s``, whatever the load).
Writes ``bench/results/scaling.json``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from trigger.io.dataset import write_dataset
from trigger.io.generator import GeneratorConfig
from trigger.io.pacer import parse_rate

from .common import environment, write_results

__all__ = ["Window", "histogram_ms", "main", "parse_points", "per_batch", "run_point"]

#: One control window as sampled: (process CPU s, monotonic s, events recorded).
Window = tuple[float, float, int]


def parse_points(text: str) -> list[tuple[int, int]]:
    """``1x1,2x4`` -> [(sources, filters), ...].

    Raises:
        SystemExit: A point that is not ``<sources>x<filters>`` with both >= 1.
    """
    points = []
    for item in text.split(","):
        try:
            s, f = (int(v) for v in item.strip().lower().split("x"))
        except ValueError:
            raise SystemExit(f"scaling: point {item!r} is not <sources>x<filters>, e.g. 2x4") from None
        if s < 1 or f < 1:
            raise SystemExit(f"scaling: point {item!r} needs at least 1 source and 1 filter")
        points.append((s, f))
    return points


def per_batch(windows: list[Window], *, batch_size: int) -> dict[str, float | None]:
    """Split the driver's CPU into a per-batch part and a fixed per-second part.

    Each pair of consecutive windows gives (batches/s, driver CPU s per s); a
    least-squares line through them gives the CPU per batch (slope) and the
    CPU per second spent whatever the load (intercept: polling the sources,
    metrics). With one load the slope is undefined; then only the overall
    ratio is given.

    Args:
        windows: Samples at the end of each control window, in order.
        batch_size: Events per batch (the files hold whole batches).

    Returns:
        ``driver_cpu_us_per_batch`` (slope, or None), ``driver_fixed_cpu_fraction``
        (intercept, or None), ``driver_cpu_us_per_batch_overall``, ``driver_busy_fraction``,
        ``batches_per_s``, ``batches`` and ``measured_s``.

    Raises:
        ValueError: Fewer than two windows, or no batch between them.
    """
    if len(windows) < 2:
        raise ValueError(f"need at least two control windows to measure, got {len(windows)}: run longer")
    (c0, t0, e0), (c1, t1, e1) = windows[0], windows[-1]
    batches = (e1 - e0) / batch_size
    if batches <= 0:
        raise ValueError("no batch finished between the first and the last control window")
    out: dict[str, float | None] = {"driver_cpu_us_per_batch_overall": (c1 - c0) / batches * 1e6,
           "driver_busy_fraction": (c1 - c0) / (t1 - t0), "batches_per_s": batches / (t1 - t0),
           "measured_s": t1 - t0, "batches": batches,
           "driver_cpu_us_per_batch": None, "driver_fixed_cpu_fraction": None}
    load = np.array([(b[2] - a[2]) / batch_size / (b[1] - a[1]) for a, b in itertools.pairwise(windows)])
    busy = np.array([(b[0] - a[0]) / (b[1] - a[1]) for a, b in itertools.pairwise(windows)])
    if load.size >= 3 and np.ptp(load) > 0.2 * load.mean():
        slope, intercept = np.polyfit(load, busy, 1)
        out["driver_cpu_us_per_batch"] = float(slope) * 1e6
        out["driver_fixed_cpu_fraction"] = float(intercept)
    return out


def histogram_ms(hist: Any) -> dict[str, list[float]]:
    """The non-empty buckets of a :class:`~trigger.runtime.latency.LatencyHistogram`: lower edges (ms), counts."""
    # Its bucket edges are log-spaced from its private _log_min, _per_decade (no public accessor).
    idx = np.flatnonzero(hist.counts)
    lower_ms = 10 ** (hist._log_min + idx / hist._per_decade) * 1e3
    return {"lower_edge_ms": [round(float(v), 4) for v in lower_ms],
            "upper_edge_ms": [round(float(v) * 10 ** (1 / hist._per_decade), 4) for v in lower_ms],
            "events": hist.counts[idx].tolist()}


def _files(data_dir: Path, *, n_files: int, events_per_file: int, batch_size: int) -> list[str]:
    """Enough files that every source gets one (a file stays with one source)."""
    files = []
    for i in range(n_files):
        target = data_dir / f"scaling-{events_per_file}-{i}"
        path = target / "events.arrow"
        if not path.exists():
            write_dataset(events_per_file, target, config=GeneratorConfig(seed=2026), formats=("ipc",),
                          batch_size=batch_size, start_event=i * events_per_file)
        files.append(str(path))
    return files


def run_point(files: list[str], *, sources: int, filters: int, cpus_per_filter: float, rates: list[str],
              step_s: float, batch_size: int) -> dict[str, Any]:
    """One farm run, paced through the load steps; the driver's figures from its control windows.

    Args:
        files: Input files (at least ``sources`` of them: a file stays with one source).
        sources: Source actors.
        filters: Filter actors.
        cpus_per_filter: CPUs each filter asks Ray for (fractions let many share the cores).
        rates: Total paced rate of each load step (events/s).
        step_s: Length of each step.
        batch_size: Events per batch.

    Returns:
        Sources, filters, events, latency (summary and histogram) and :func:`per_batch`'s figures.

    Raises:
        RuntimeError: The run lost events (in != kept + rejected + quarantined).
    """
    from trigger.runtime.ray import EngineSpec, FarmConfig, FarmReplay

    windows: list[Window] = []

    def sample(ctl: Any) -> None:
        if ctl.started:
            windows.append((time.process_time(), time.monotonic(), ctl.rec.events_in))

    out = Path(tempfile.mkdtemp(prefix="trigger-scaling-"))
    try:
        config = FarmConfig(filters=filters, sources=sources, cpus_per_filter=cpus_per_filter, batch_size=batch_size,
                            rate_steps=tuple((i * step_s, r) for i, r in enumerate(rates)), progress=False)
        farm = FarmReplay(EngineSpec.from_menu(None), out, config=config, menu_name="default", metrics=False,
                          on_window=sample)
        summary = farm.run(files)
        hist = histogram_ms(farm.controller.rec.latency) if farm.controller else None
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if summary["events_in"] != summary["events_kept"] + summary["events_rejected"] + summary["events_quarantined"]:
        raise RuntimeError(f"farm lost events at {sources}x{filters}: {summary}")
    return {"sources": sources, "filters": filters, "events": summary["events_in"],
            "latency_ms": summary.get("latency_ms"), "windows": len(windows),
            "latency_histogram": hist,
            **per_batch(windows[1:], batch_size=batch_size)}  # the first window holds the start-up


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the sweep and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", default="1x1,2x2,4x4,8x8", help="<sources>x<filters>, comma-separated")
    ap.add_argument("--rates", default="40kHz,120kHz,200kHz",
                    help="load steps (total paced rate), the same at every point")
    ap.add_argument("--step-seconds", type=float, default=4.0, help="length of each load step")
    ap.add_argument("--batch-size", type=int, default=4_096)
    ap.add_argument("--num-cpus", type=int, default=None, help="CPUs of the local Ray instance (default: all)")
    ap.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "trigger-bench")
    ap.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = ap.parse_args(argv)
    import ray

    points = parse_points(args.points)
    rates = [r.strip() for r in args.rates.split(",")]
    for text in rates:
        if parse_rate(text).unit != "events":
            raise SystemExit(f"scaling: --rates must be in events/s (e.g. 160kHz), got {text!r}")
    n_files = max(s for s, _ in points)
    total = sum(parse_rate(r).per_s for r in rates) * args.step_seconds
    # Whole batches per file, enough for every step at its rate.
    per_file = max(1, round(total / n_files / args.batch_size)) * args.batch_size
    files = _files(args.data_dir, n_files=n_files, events_per_file=per_file, batch_size=args.batch_size)
    cpus = args.num_cpus or len(os.sched_getaffinity(0))
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="ERROR")
    cpus_per_filter = cpus / max(f for _, f in points)
    results = []
    try:
        for sources, filters in points:
            r = run_point(files, sources=sources, filters=filters, cpus_per_filter=cpus_per_filter, rates=rates,
                          step_s=args.step_seconds, batch_size=args.batch_size)
            results.append(r)
            slope = r["driver_cpu_us_per_batch"]
            print(f"{sources} sources x {filters} filters: driver "
                  + (f"{slope:,.0f} us CPU per batch + {r['driver_fixed_cpu_fraction']:.1%} of a core fixed; "
                     if slope is not None else "")
                  + f"overall {r['driver_cpu_us_per_batch_overall']:,.0f} us per batch, busy "
                  f"{r['driver_busy_fraction']:.1%} of a core at {r['batches_per_s']:,.1f} batches/s")
    finally:
        if started:
            ray.shutdown()
    slopes = [r["driver_cpu_us_per_batch"] for r in results if r["driver_cpu_us_per_batch"]]
    result = {"rates": rates, "step_seconds": args.step_seconds, "batch_size": args.batch_size, "ray_cpus": cpus,
              "cpus_per_filter": cpus_per_filter, "tick_s": 0.05, "points": results,
              "driver_cpu_per_batch_max_over_min": max(slopes) / min(slopes) if len(slopes) > 1 else None}
    path = write_results("scaling", result, **({"out_dir": args.out} if args.out else {}))
    flat = result["driver_cpu_per_batch_max_over_min"]
    print(f"machine: {environment()['cpu']}; driver CPU per batch max/min over the points: "
          + (f"{flat:.2f} (flat is 1.0)" if flat else "n/a (one point)"))
    print(f"results: {path}")
    return result


if __name__ == "__main__":
    main()
