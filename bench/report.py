"""Markdown tables from ``bench/results/*.json``, embedded in ``docs/benchmarks.md`` between markers.

Usage::

    python -m bench.report [--results DIR] [--doc docs/benchmarks.md]

Each results file present gives one section (absent files are listed as not
run); the text between ``<!-- bench:begin -->`` and ``<!-- bench:end -->`` in
the document is replaced, the rest (the discussion) is left alone.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR

__all__ = ["BEGIN", "DOC_PATH", "END", "embed", "load_results", "main", "render"]

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
NAMES = ("replay", "peers", "io", "payload", "scaling", "farm", "inference")


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """``name -> data`` for every ``*.json`` in the directory that parses (others are skipped)."""
    out = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            out[path.stem] = data
    return out


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|"]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _spread(r: dict[str, Any]) -> str:
    return f"{_n(r['median'])} ({_n(r['min'])}–{_n(r['max'])})"


def _replay(d: dict[str, Any]) -> list[str]:
    rows = [[k, _n(v)] for k, v in d["stage_events_per_s"].items()]
    rows += [[f"back to back, {k}", _n(v)] for k, v in d["back_to_back_events_per_s"].items()]
    rows += [[f"end to end, {k}", _spread(v)] for k, v in d["end_to_end_events_per_s"].items()]
    rows.append(["strawman loop (sample)", _n(d["strawman"]["events_per_s"])])
    out = [(f"**Local replay** ({_n(d['events'])} events, batches of {_n(d['batch_size'])}; stages on one core; "
           f"median (min–max) of {d['repeats']} runs)"), ""] + _table(["stage", "events/s"], rows)
    goals = d.get("goals", {})
    ratio_rows = [[k, f"{v:.2f}", _n(goals.get(k.split("_", 1)[1]), 1)] for k, v in d["ratios"].items()]
    return out + [""] + _table(["ratio", "measured", "goal"], ratio_rows)


def _peers(d: dict[str, Any]) -> list[str]:
    rows = [[name, _spread(r["events_per_s"]), f"{r['cpu_us_per_event']:.3f}", _n(r["events"]),
             _n(d["agrees_with_engine"].get(name, True)),
             "1.0" if name == "engine" else f"{d['ratios'].get(f'engine_vs_{name}', 0):.1f}"]
            for name, r in d["peers"].items()]
    return [f"**Peers** (same IPC file, one core, default menu; median (min–max) of {d['repeats']} interleaved runs)",
            ""] + _table(["implementation", "events/s", "CPU µs/event", "events", "same path counts",
                          "engine is x faster"], rows)


def _io(d: dict[str, Any]) -> list[str]:
    rows = [[fmt, _n(r["events_per_s"]), _n(r["events_per_cpu_s"]), _n(r["arrow_mb_per_s"], 1),
             _n(r["file_mb_per_s"], 1)] for fmt, r in d["formats"].items()]
    u = d.get("root_vs_uproot", {})
    if "uproot_iterate" in u:
        rows.append(["uproot.iterate (no mapping)", _n(u["uproot_iterate"]["events_per_s"]),
                     _n(u["uproot_iterate"]["events_per_cpu_s"]), "–", "–"])
    return [f"**Reading** ({_n(d['events'])} events, {d['raw_bytes_per_event']} B raw payload, one thread)", ""] + \
        _table(["format", "events/s", "events/CPU s", "Arrow MB/s", "file MB/s"], rows)


def _payload(d: dict[str, Any]) -> list[str]:
    rows = [[_n(p["raw_bytes_per_event"]), _n(p["events"]), f"{p['decide_us_per_event']:.3f}",
             f"{p['engine_us_per_event']:.3f}", f"{p['copied_bytes_per_event'] / 1e3:,.1f}",
             f"{p['kept_fraction']:.1%}"] for p in d["points"]]
    copy = d.get("copy_bytes_per_s")
    tail = f"; kept payload copied at {copy / 1e9:.2f} GB/s per core" if copy else ""
    return [(f"**Payload sweep** (one core, batches of {_n(d['batch_size'])}; decide cost max/min "
            f"{d['decide_max_over_min']:.2f}, flat is 1.0{tail})"), ""] + \
        _table(["raw B/event", "events", "decide µs/event", "engine µs/event", "copied kB/event", "kept"], rows)


def _scaling(d: dict[str, Any]) -> list[str]:
    rows = [[f"{p['sources']} x {p['filters']}", _n(p["driver_cpu_us_per_batch"]),
             "–" if p["driver_fixed_cpu_fraction"] is None else f"{p['driver_fixed_cpu_fraction']:.1%}",
             _n(p["driver_cpu_us_per_batch_overall"]), f"{p['batches_per_s']:.1f}",
             _n((p.get("latency_ms") or {}).get("p99"), 1)] for p in d["points"]]
    return [(f"**Control plane** (driver of the Ray farm; paced steps {', '.join(d['rates'])}, batches of "
            f"{_n(d['batch_size'])})"), ""] + \
        _table(["sources x filters", "driver CPU µs/batch", "fixed (polling), of a core", "overall µs/batch",
                "batches/s", "p99 ms"], rows)


def _farm(d: dict[str, Any]) -> list[str]:
    t = d["throughput"]
    rows = [["farm, 1 filter", _n(t["farm_1_filter_events_per_s"])],
            ["farm, 2 filters", f"{_n(t['farm_2_filters_events_per_s'])} (x{t['farm_ratio_2_vs_1']})"],
            ["local, 2 workers", _n(t["local_2_workers_events_per_s"])]]
    pq = t.get("parquet", {})
    if pq:
        rows += [["Parquet: farm", _n(pq["farm_events_per_s"])], ["Parquet: local", _n(pq["local_events_per_s"])],
                 ["Parquet: Ray Data map_batches", (f"{_n(pq['ray_data_events_per_s'])} (farm is "
                                                   f"x{pq['farm_vs_ray_data']})")]]
    out = ["**Farm on Ray**" + (" (quick run)" if d.get("quick") else ""), ""] + _table(["run", "events/s"], rows)
    split = d.get("cpu_split") or {}
    measured = [(n, split.get(f"filters_{n}")) for n in (1, 2) if split.get(f"filters_{n}")]
    if measured:
        roles = ("filters", "sink", "source", "driver", "raylet", "gcs")
        out += ["", f"**Where the cores go** (CPU ms per batch by process, {split.get('cores')} cores; two filters "
                f"could reach at most x{split.get('ceiling_ratio_2_vs_1')} of one)", ""] + _table(
            ["filter actors", "batches/s", "cores busy", *roles, "total"],
            [[str(n), _n(r["batches_per_s"], 1), _n(r["cores_busy"], 2),
              *(_n(r[f"{role}_ms_per_batch"], 1) for role in roles), _n(r["total_ms_per_batch"], 1)]
             for n, r in measured])
    lat = d.get("latency_vs_load") or []
    if lat:
        runs = lat[0].get("runs", 1)
        out += ["", "**Latency versus offered load** (farm, 2 filters" + (
            f"; the run with the median p99 of {runs}, and p99 / service of each run" if runs > 1 else "") + ")",
            ""] + _table(
            ["load", "events/s", "p50 ms", "p99 ms", "batch service ms", "p99 / service", "deadtime"],
            [[f"{r['load']:.0%}", _n(r["rate_events_per_s"]), _n(r["p50_ms"], 1), _n(r["p99_ms"], 1),
              _n(r["mean_batch_service_ms"], 1),
              ", ".join(f"{x:.1f}" for x in r.get("p99_over_service_runs",
                                                 [r["p99_ms"] / r["mean_batch_service_ms"]])),
              f"{r['deadtime_fraction']:.1%}"] for r in lat])
    return out


def _inference(d: dict[str, Any]) -> list[str]:
    rows = []
    for model, r in d["models_one_core"].items():
        best = max(r["batches"].items(), key=lambda kv: kv[1]["scorer_events_per_s"])
        rows.append([model, r["provider"], _n(int(best[0])), _n(best[1]["onnxruntime_events_per_s"]),
                     _n(best[1]["scorer_events_per_s"])])
    out = ["**Models** (one core)", ""] + _table(
        ["model", "provider", "best batch", "onnxruntime events/s", "with input building events/s"], rows)
    ipc, parquet = d.get("replay_one_core", {}), d.get("replay_one_core_parquet", {})
    menus = [[name, _n(r["events_per_s"]), f"{r['ratio_to_default_wall']:.3f}",
              *([_n(parquet[name]["events_per_s"]), f"{parquet[name]['ratio_to_default_wall']:.3f}"]
                if name in parquet else ["", ""])]
             for name, r in ipc.items() if "events_per_s" in r]
    if menus:
        out += ["", "**Replay with models** (one core; input as Arrow IPC, memory-mapped, and as Parquet)", ""]
        out += _table(["menu", "IPC events/s", "of default", "Parquet events/s", "of default"], menus)
    e2e = d.get("replay_end_to_end") or {}
    rows = [[name, f"{r['process_wall_s']:.2f}", f"{r['ratio_process_wall']:.3f}", _n(r["replay_events_per_s"]),
             f"{r['ratio_replay_rate']:.3f}"] for name, r in e2e.items() if isinstance(r, dict)]
    if rows:
        out += ["", f"**End-to-end `trigger replay`** ({_n(e2e['events'])} IPC events, default options: "
                f"{e2e['processes']} engine processes; process wall time and the replay's own rate)", ""]
        out += _table(["menu", "process s", "of default", "replay events/s", "of default"], rows)
    return out


SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "replay": _replay, "peers": _peers, "io": _io, "payload": _payload, "scaling": _scaling, "farm": _farm,
    "inference": _inference,
}


def render(results: dict[str, dict[str, Any]]) -> str:
    """The Markdown: the machine, then one section per results file (in a fixed order)."""
    lines: list[str] = []
    envs = [r["environment"] for r in results.values() if isinstance(r.get("environment"), dict)]
    if envs:
        env = max(envs, key=lambda e: str(e.get("date", "")))  # the newest run describes the machine
        versions = ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items())
        commits = ", ".join(sorted({str(e.get("commit")) for e in envs}))
        dates = sorted(str(e.get("date")) for e in envs)
        lines += [(f"Machine: {env.get('cpu')}, {env.get('cpus_usable')} cores usable, {env.get('memory_gib')} GiB; "
                   f"Python {env.get('python')}; {versions}. Runs from {dates[0]} to {dates[-1]}, commit(s) "
                   f"{commits}."), ""]
    missing = [n for n in NAMES if n not in results]
    for name, section in SECTIONS.items():
        if name not in results:
            continue
        try:
            lines += section(results[name]) + [""]
        except (AttributeError, KeyError, TypeError, ValueError, ZeroDivisionError) as err:
            lines += [(f"**{name}**: results file has an unexpected layout ({type(err).__name__}: {err}); "
                      f"rerun `trigger bench {name}`"), ""]
    if missing:
        lines.append(f"Not run: {', '.join(missing)} (`trigger bench {' / '.join(missing)}`).")
    return "\n".join(lines).rstrip() + "\n"


def embed(doc: Path, markdown: str) -> None:
    """Replace the text between the markers in ``doc``.

    Raises:
        ValueError: The document lacks a marker, or has them in the wrong order.
    """
    text = doc.read_text(encoding="utf-8")
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"{doc}: expected the markers {BEGIN} and then {END} (each on its own line) around the "
                         "generated tables; add them where the tables belong")
    new = text[: start + len(BEGIN)] + "\n" + markdown + text[end:]
    tmp = doc.with_name(doc.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    tmp.replace(doc)


def main(argv: list[str] | None = None) -> str:
    """Render the tables, write ``<results>/benchmarks.md`` and embed them in the document if it exists."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, default=RESULTS_DIR, help="results directory (default bench/results)")
    ap.add_argument("--doc", type=Path, default=None, help=f"document to embed into (default {DOC_PATH}, "
                                                            "only with the default results directory)")
    args = ap.parse_args(argv)
    markdown = render(load_results(args.results))
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "benchmarks.md").write_text(markdown, encoding="utf-8")
    doc = args.doc or (DOC_PATH if args.results.resolve() == RESULTS_DIR.resolve() else None)
    if doc is not None and doc.exists():
        embed(doc, markdown)
        print(f"tables embedded in {doc}")
    print(f"tables: {args.results / 'benchmarks.md'}")
    return markdown


if __name__ == "__main__":
    main()
