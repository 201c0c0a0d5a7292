"""One command for every benchmark, the plots and the Markdown tables.

Usage::

    python -m bench.run_all                 # everything, full sizes (tens of minutes on 2 cores)
    python -m bench.run_all --quick         # smoke sizes, a few minutes
    python -m bench.run_all report          # plots and tables from the results already there

Steps: the benchmarks (``replay io peers payload scaling farm inference``),
then ``plots`` (PNG under ``<out>/plots``) and ``report`` (``<out>/benchmarks.md``,
embedded in ``docs/benchmarks.md`` when ``<out>`` is ``bench/results``). A
failing benchmark is reported and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

from .common import RESULTS_DIR

__all__ = ["BENCHMARKS", "STEPS", "bench_argv", "main", "run_steps"]

#: Benchmark name -> module in this package.
BENCHMARKS: dict[str, str] = {
    "replay": "replay_bench", "io": "io_bench", "peers": "peers", "payload": "payload_sweep",
    "scaling": "scaling", "farm": "farm_bench", "inference": "inference_bench",
}
STEPS = (*BENCHMARKS, "plots", "report", "all")
#: Smoke sizes for --quick (each still writes well-formed results).
QUICK: dict[str, list[str]] = {
    "replay": ["--events", "200000", "--repeats", "1", "--strawman-events", "20000"],
    "io": ["--events", "50000", "--repeats", "1"],
    "peers": ["--events", "200000", "--repeats", "3", "--strawman-events", "20000"],
    "payload": ["--sizes", "0,1k,100k", "--events", "20000", "--max-bytes", "2e8", "--repeats", "1"],
    "scaling": ["--points", "1x1,2x2", "--step-seconds", "2"],
    "farm": ["--quick"],
    "inference": ["--quick"],
}
_TAKES_EVENTS = {"replay", "io", "peers", "payload", "farm", "inference"}
_TAKES_REPEATS = {"replay", "io", "peers", "payload", "inference"}
_TAKES_OUT_DIR = {"replay", "io", "peers", "payload", "scaling"}


def bench_argv(name: str, *, events: int | None, repeats: int | None, out: Path, quick: bool) -> list[str]:
    """The command line of one benchmark's ``main`` for the common options.

    Options a benchmark does not have are left out (``scaling`` has no
    ``--events``; ``farm`` writes one file, ``--out <out>/farm.json``).
    """
    argv = list(QUICK[name]) if quick else []

    def put(flag: str, value: Any) -> None:
        if flag in argv:
            argv[argv.index(flag) + 1] = str(value)
        else:
            argv.extend([flag, str(value)])

    if events is not None and name in _TAKES_EVENTS:
        put("--events", events)
    if repeats is not None and name in _TAKES_REPEATS:
        put("--repeats", repeats)
    if name in _TAKES_OUT_DIR:
        put("--out", out)
    elif name == "farm":
        put("--out", out / "farm.json")
    return argv


def _run_benchmark(name: str, argv: list[str], out: Path) -> None:
    t0 = time.time()
    module = importlib.import_module(f"{__package__}.{BENCHMARKS[name]}")
    module.main(argv)
    default = RESULTS_DIR / f"{name}.json"
    # inference_bench has no --out: it writes bench/results/inference.json; bring a fresh one along.
    if name == "inference" and out.resolve() != RESULTS_DIR.resolve() and default.exists() \
            and default.stat().st_mtime >= t0:
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy2(default, out / default.name)


def run_steps(names: list[str], *, events: int | None = None, repeats: int | None = None, out: Path = RESULTS_DIR,
              quick: bool = False, doc: Path | None = None) -> dict[str, str]:
    """Run the steps in order (``all`` expands to every benchmark, then plots and report).

    Returns:
        ``step -> "ok (N s)"`` or ``"FAILED: why"``.

    Raises:
        ValueError: An unknown step name.
    """
    from . import plots, report

    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ValueError(f"unknown benchmark step(s) {', '.join(unknown)}; expected any of {', '.join(STEPS)}")
    steps: list[str] = []
    for n in names:
        steps += [*BENCHMARKS, "plots", "report"] if n == "all" else ["plots", "report"] if n == "report" else [n]
    status: dict[str, str] = {}
    for step in dict.fromkeys(steps):
        t0 = time.perf_counter()
        print(f"== {step}", flush=True)
        try:
            if step == "plots":
                plots.main(["--results", str(out)])
            elif step == "report":
                report.main(["--results", str(out)] + (["--doc", str(doc)] if doc else []))
            else:
                _run_benchmark(step, bench_argv(step, events=events, repeats=repeats, out=out, quick=quick), out)
            status[step] = f"ok ({time.perf_counter() - t0:.0f} s)"
        except (Exception, SystemExit) as err:
            traceback.print_exc()
            status[step] = f"FAILED: {type(err).__name__}: {err}"
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the steps; exit 1 if any failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("steps", nargs="*", default=["all"], choices=STEPS, metavar="STEP",
                    help=f"any of {', '.join(STEPS)} (default all)")
    ap.add_argument("--events", type=int, default=None, help="events per benchmark (each has its own default)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per measurement (median)")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory (default bench/results)")
    ap.add_argument("--quick", action="store_true", help="smoke sizes")
    ap.add_argument("--doc", type=Path, default=None, help="Markdown document to embed the tables in")
    args = ap.parse_args(argv)
    status = run_steps(args.steps, events=args.events, repeats=args.repeats, out=args.out, quick=args.quick,
                       doc=args.doc)
    for step, s in status.items():
        print(f"{step:<10} {s}")
    return 1 if any(s.startswith("FAILED") for s in status.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
