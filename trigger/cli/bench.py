"""``trigger bench``: run the benchmarks (package ``trigger_bench``, from bench/) and regenerate plots and tables."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["STEPS", "add_parser", "run"]

#: Kept in step with ``trigger_bench.run_all.STEPS`` (a test checks), so that --help needs no import.
STEPS = ("replay", "io", "peers", "payload", "scaling", "farm", "inference", "plots", "report", "all")


def add_parser(subparsers: Any) -> None:
    """Add the ``bench`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="measure what trigger sustains on this machine, against peers; plots and tables",
        description="Run benchmarks and write JSON results, PNG plots and Markdown tables. Steps: replay (local "
        "replay, stages, 1 and 2 cores), io (read rate per format), peers (engine vs awkward vs a per-event loop), "
        "payload (cost per event vs raw payload size), scaling (the farm driver's work per batch vs sources and "
        "filters), farm (Ray farm: filters, Ray Data, latency vs load), inference (models), plots, report "
        "(plots + tables from existing results), all (every benchmark, then plots and report).",
    )
    p.add_argument("step", nargs="?", default="all", choices=STEPS, metavar="STEP",
                   help=f"one of {', '.join(STEPS)} (default all)")
    p.add_argument("--events", type=int, default=None, help="events per benchmark (each has its own default)")
    p.add_argument("--repeats", type=int, default=None, help="runs per measurement, median reported")
    p.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    p.add_argument("--quick", action="store_true", help="smoke sizes: checks everything runs, figures are rough")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the step; exit 1 if a benchmark failed.

    Raises:
        MissingDependencyError: The benchmarks or matplotlib are not installed.
        ConfigError: A count below 1.
    """
    from trigger.errors import ConfigError, MissingDependencyError

    for name in ("events", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be at least 1, got {value}")
    try:
        from trigger_bench import run_all
        from trigger_bench.common import RESULTS_DIR
    except ImportError as err:
        raise MissingDependencyError(f"the benchmarks (package trigger_bench) cannot be imported ({err}); "
                                     "install trigger with them: pip install 'trigger[bench]'") from None
    if args.step in ("plots", "report", "all"):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise MissingDependencyError("plots need matplotlib: pip install 'trigger[bench]'") from None
    status = run_all.run_steps([args.step], events=args.events, repeats=args.repeats, out=args.out or RESULTS_DIR,
                               quick=args.quick)
    for step, s in status.items():
        print(f"{step:<10} {s}")
    return 1 if any(s.startswith("FAILED") for s in status.values()) else 0
