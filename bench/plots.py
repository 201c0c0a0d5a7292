"""PNG plots from ``bench/results/*.json`` (matplotlib, no display needed).

Usage::

    python -m bench.plots [--results DIR] [--out DIR]

Writes, for each results file present: ``stages.png`` (events/s per core per
stage, end to end and the peers), ``peers.png`` (with the spread of the
runs), ``payload.png`` (cost per event versus payload), ``scaling.png`` (the
driver's CPU per batch versus sources and filters; farm 1 vs 2 filters),
``latency_vs_load.png`` and ``latency_histogram.png``. A plot whose results are
missing is skipped, with the reason.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR
from .report import load_results

__all__ = ["PLOTS", "main", "make_plots"]


def _figure(width: float = 7.0, height: float = 4.0, *, ncols: int = 1) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width, height), dpi=110)


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def stages(results: dict[str, Any], path: Path) -> Path | None:
    """Events/s per core: each stage, end to end, and the peers (log scale)."""
    bars: list[tuple[str, float, str]] = []
    if "replay" in results:
        r = results["replay"]
        bars += [(k.replace("_", " "), v, "tab:blue") for k, v in r["stage_events_per_s"].items()]
        bars += [(f"end to end {k.replace('_', ' ')}", v["median"], "tab:green")
                 for k, v in r["end_to_end_events_per_s"].items()]
    if "peers" in results:
        bars += [(f"peer: {k}", v["events_per_s"]["median"], "tab:orange" if k != "engine" else "tab:green")
                 for k, v in results["peers"]["peers"].items()]
    if not bars:
        return None
    fig, ax = _figure(7.5, 0.35 * len(bars) + 1.2)
    ax.barh([b[0] for b in bars][::-1], [b[1] for b in bars][::-1], color=[b[2] for b in bars][::-1])
    ax.set_xscale("log")
    ax.set_xlabel("events/s (one core unless named 2core: threads, 2proc: processes)")
    ax.set_title("Throughput per stage, end to end, and peers")
    return _save(fig, path)


def peers(results: dict[str, Any], path: Path) -> Path | None:
    """The peers' events/s on one core, median with min-max bars."""
    if "peers" not in results:
        return None
    p = results["peers"]["peers"]
    names = list(p)
    med = [p[n]["events_per_s"]["median"] for n in names]
    lo = [m - p[n]["events_per_s"]["min"] for n, m in zip(names, med)]
    hi = [p[n]["events_per_s"]["max"] - m for n, m in zip(names, med)]
    fig, ax = _figure(6.0, 3.5)
    ax.bar(names, med, yerr=[lo, hi], capsize=6, color=["tab:green", "tab:orange", "tab:red"][: len(names)])
    ax.set_yscale("log")
    ax.set_ylabel("events/s, one core")
    ax.set_title(f"Same menu, same file: median (min-max) of {results['peers']['repeats']} runs")
    return _save(fig, path)


def payload(results: dict[str, Any], path: Path) -> Path | None:
    """Cost per event versus raw payload size: deciding stays flat, copying kept events grows."""
    if "payload" not in results:
        return None
    pts = results["payload"]["points"]
    x = [max(p["raw_bytes_per_event"], 1) for p in pts]  # 0 B at 1 B on the log axis
    fig, ax = _figure()
    ax.plot(x, [p["decide_us_per_event"] for p in pts], "o-", label="decide (every event)")
    ax.plot(x, [p["engine_us_per_event"] for p in pts], "s-", label="engine (+ copy of kept events)")
    ax.plot(x, [p["read_us_per_event"] for p in pts], "^-", label="read (memory-mapped IPC)")
    ax.set_xscale("log")
    ax.set_xlabel("raw payload per event, bytes (0 plotted at 1)")
    ax.set_ylabel("µs per event, one core")
    ax2 = ax.twinx()
    ax2.plot(x, [p["copied_bytes_per_event"] / 1e3 for p in pts], "k:", label="kB copied per event")
    ax2.set_ylabel("kB copied per event (kept only)")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("Filter cost versus payload size")
    return _save(fig, path)


def scaling(results: dict[str, Any], path: Path) -> Path | None:
    """Left: driver CPU per batch versus sources x filters. Right: farm throughput with 1 and 2 filters."""
    have_s, have_f = "scaling" in results, "farm" in results
    if not (have_s or have_f):
        return None
    both = have_s and have_f
    fig, axes = _figure(10.0 if both else 6.0, 4.0, ncols=2 if both else 1)
    axes = list(axes) if both else [axes]
    if have_s:
        ax, pts = axes[0], results["scaling"]["points"]
        labels = [f"{p['sources']}x{p['filters']}" for p in pts]
        ax.plot(labels, [p["driver_cpu_us_per_batch"] or float("nan") for p in pts], "o-", label="per batch (slope)")
        ax.plot(labels, [p["driver_cpu_us_per_batch_overall"] for p in pts], "s--", label="overall / batch")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("sources x filters")
        ax.set_ylabel("driver CPU µs per batch")
        ax.set_title("Control plane per batch")
        ax.legend(fontsize=8)
    if have_f:
        ax, t = axes[-1], results["farm"]["throughput"]
        names = ["farm 1 filter", "farm 2 filters", "local 2 workers"]
        vals = [t["farm_1_filter_events_per_s"], t["farm_2_filters_events_per_s"], t["local_2_workers_events_per_s"]]
        if "parquet" in t:  # the Ray Data peer reads Parquet: compare with the farm on the same files
            names += ["farm (Parquet)", "Ray Data (Parquet)"]
            vals += [t["parquet"]["farm_events_per_s"], t["parquet"]["ray_data_events_per_s"]]
        ax.bar(names, vals, color="tab:blue")
        ax.set_ylabel("events/s")
        ax.set_title(f"Filter actors: 2 vs 1 = x{t['farm_ratio_2_vs_1']}")
        ax.tick_params(axis="x", labelsize=8, rotation=15)
    return _save(fig, path)


def latency_vs_load(results: dict[str, Any], path: Path) -> Path | None:
    """Decision latency p50/p99 versus offered load (farm)."""
    rows = (results.get("farm") or {}).get("latency_vs_load") or []
    if not rows:
        return None
    fig, ax = _figure()
    load = [r["load"] * 100 for r in rows]
    ax.plot(load, [r["p50_ms"] for r in rows], "o-", label="p50")
    ax.plot(load, [r["p99_ms"] for r in rows], "s-", label="p99")
    ax.plot(load, [r["mean_batch_service_ms"] for r in rows], "k:", label="batch service time")
    ax.set_yscale("log")
    ax.set_xlabel("offered load, % of measured capacity")
    ax.set_ylabel("ms")
    ax.set_title("Decision latency versus load (farm, 2 filters)")
    ax.legend()
    return _save(fig, path)


def latency_histogram(results: dict[str, Any], path: Path) -> Path | None:
    """Events per latency bucket (paced farm runs of the scaling benchmark), one line per point."""
    pts = [p for p in (results.get("scaling") or {}).get("points", []) if p.get("latency_histogram")]
    if not pts:
        return None
    import numpy as np

    lows = np.concatenate([np.asarray(p["latency_histogram"]["lower_edge_ms"], dtype=float) for p in pts])
    # Rebin the fine stored buckets to 20 per decade over the common range, zeros included.
    first, last = np.floor(np.log10(lows.min()) * 20), np.floor(np.log10(lows.max()) * 20) + 1
    edges = 10 ** (np.arange(first, last + 1) / 20)
    fig, ax = _figure()
    for p in pts:
        h = p["latency_histogram"]
        counts, _ = np.histogram(h["lower_edge_ms"], bins=edges, weights=h["events"])
        ax.stairs(counts, edges, label=f"{p['sources']} sources x {p['filters']} filters")
    ax.set_xscale("log")
    ax.set_xlabel("decision latency, ms (20 buckets per decade)")
    ax.set_ylabel("events")
    ax.set_title("Latency histogram, paced farm replay")
    ax.legend(fontsize=8)
    return _save(fig, path)


PLOTS: dict[str, Callable[[dict[str, Any], Path], Path | None]] = {
    "stages": stages, "peers": peers, "payload": payload, "scaling": scaling, "latency_vs_load": latency_vs_load,
    "latency_histogram": latency_histogram,
}


def make_plots(results: dict[str, dict[str, Any]], out_dir: Path) -> dict[str, str]:
    """Every plot its results allow: ``name -> path``, or ``name -> "skipped: why"``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    done: dict[str, str] = {}
    for name, plot in PLOTS.items():
        try:
            path = plot(results, out_dir / f"{name}.png")
        except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError) as err:
            import matplotlib.pyplot as plt

            plt.close("all")  # the half-drawn figure
            done[name] = f"skipped: unexpected results layout ({type(err).__name__}: {err})"
            continue
        done[name] = str(path) if path else "skipped: no results for it"
    return done


def main(argv: list[str] | None = None) -> dict[str, str]:
    """Write the plots."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS_DIR, help="results directory (default bench/results)")
    ap.add_argument("--out", type=Path, default=None, help="plot directory (default <results>/plots)")
    args = ap.parse_args(argv)
    done = make_plots(load_results(args.results), args.out or args.results / "plots")
    for name, where in done.items():
        print(f"{name:<18} {where}")
    return done


if __name__ == "__main__":
    main()
