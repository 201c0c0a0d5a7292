"""``trigger farm replay``: replay event files through the filter farm on Ray.

Same menus, inputs, outputs, summary and exit codes as ``trigger replay``;
the work runs on Ray actors (a local cluster, or the one ``--address`` names).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "config_from_args", "run"]


def _rate_step(text: str) -> tuple[float, str]:
    try:
        t_s, rate = text.split(":", 1)
        return float(t_s), rate
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected T_S:RATE (e.g. 10:200kHz), got {text!r}") from None


def add_parser(subparsers: Any) -> None:
    """Add the ``farm`` command with its ``replay`` subcommand."""
    farm: argparse.ArgumentParser = subparsers.add_parser(
        "farm", help="run the filter farm on Ray", description="The trigger filter farm on Ray actors.")
    sub = farm.add_subparsers(dest="farm_command", metavar="SUBCOMMAND")
    farm.set_defaults(func=lambda args: (farm.print_help(), 2)[1])
    p: argparse.ArgumentParser = sub.add_parser(
        "replay", help="replay event files through the farm",
        description="Replay event files through a trigger menu on Ray filter actors: sources dispatch batches "
        "straight to filter actors under credit-based flow control; sinks write the kept streams idempotently. "
        "Starts a local Ray cluster unless --address is given. Ray token authentication stays on (Ray's default; "
        "set RAY_AUTH_MODE=disabled to opt out on an isolated machine).")
    p.add_argument("files", nargs="+", metavar="FILES", help="Parquet or Arrow IPC files, directories or globs")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--menu", help="trigger menu YAML (default: the shipped default menu)")
    p.add_argument("--address", help="join this Ray cluster ('auto' inside a RayCluster pod); default: start one")
    p.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local cluster (default: all cores)")
    p.add_argument("--dashboard", action="store_true", help="start the Ray dashboard with a local cluster")
    p.add_argument("--filters", type=int, default=2, help="filter actors at the start (default 2)")
    p.add_argument("--min-filters", type=int, default=None, help="autoscaling lower bound (default: --filters)")
    p.add_argument("--max-filters", type=int, default=None, help="autoscaling upper bound (default: --filters)")
    p.add_argument("--cpus-per-filter", type=float, default=1.0, help="CPUs each filter actor asks for (default 1)")
    p.add_argument("--gpus-per-filter", type=float, default=0.0,
                   help="GPUs each filter actor asks for; fractions share a GPU (e.g. 0.25)")
    p.add_argument("--credits", type=int, default=3, help="in-flight batches per filter actor (default 3)")
    p.add_argument("--batch-size", type=int, default=65_536, help="events per batch (default 65536)")
    p.add_argument("--sources", type=int, default=1, help="source actors (files are split among them)")
    p.add_argument("--sinks", type=int, default=1, help="sink actors writing the kept streams")
    p.add_argument("--sink-group-batches", type=int, default=None, metavar="N",
                   help="batches a sink commits in one file per stream (default: half the credits of the pool)")
    p.add_argument("--sink-group-delay-s", type=float, default=0.2, metavar="S",
                   help="a sink commits a group at the latest S seconds after its first batch (default 0.2)")
    p.add_argument("--latency-budget-ms", type=float, default=500.0, help="decision latency budget (p99)")
    p.add_argument("--rate", metavar="RATE",
                   help="paced replay: emit at this rate in events/s (100kHz, 5000) or bytes/s (2GB/s), as "
                   "`trigger replay --rate`; default: as fast as credits allow")
    p.add_argument("--rate-step", type=_rate_step, action="append", default=[], metavar="T_S:RATE",
                   help="change the rate T_S seconds after the start (repeatable): a load step, e.g. 10:200kHz")
    p.add_argument("--mapping", metavar="NAME|YAML",
                   help="map every input onto the event model with this mapping (as `trigger replay --mapping`)")
    p.add_argument("--backfill", nargs="+", default=[], metavar="FILES",
                   help="backlog files processed only with capacity the live input leaves idle")
    p.add_argument("--backfill-margin-ms", type=float, default=50.0,
                   help="live p99 may exceed the budget by this much before backfill pauses")
    p.add_argument("--resume", action="store_true",
                   help="skip batches already in OUT/ledger.jsonl (restart after a driver crash)")
    p.add_argument("--transport", choices=("auto", "object-store", "file"), default="auto",
                   help="how batches reach filters: the source puts them in the object store, or filters read "
                   "them from the files (every node must see the files at the same path); auto: file on a "
                   "cluster started here, object store on one joined with --address")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~trigger.runtime.ray.config.FarmConfig` the options describe."""
    from trigger.runtime.ray.config import FarmConfig

    return FarmConfig(
        filters=args.filters, min_filters=args.min_filters, max_filters=args.max_filters,
        cpus_per_filter=args.cpus_per_filter, gpus_per_filter=args.gpus_per_filter, credits=args.credits,
        batch_size=args.batch_size, sources=args.sources, sinks=args.sinks,
        sink_group_batches=args.sink_group_batches, sink_group_delay_s=args.sink_group_delay_s, rate=args.rate,
        rate_steps=tuple(args.rate_step), latency_budget_ms=args.latency_budget_ms,
        backfill_margin_ms=args.backfill_margin_ms, resume=args.resume, progress=not args.no_progress,
        transport=getattr(args, "transport", "auto"),
    )


def run(args: argparse.Namespace) -> int:
    """Run the farm replay; exit 3 when anything was quarantined (as ``trigger replay``)."""
    from trigger.cli.report import exit_status, print_incident, print_summary
    from trigger.runtime.ray import EngineSpec, FarmReplay

    config = config_from_args(args)  # option errors before Ray starts
    spec = EngineSpec.from_menu(args.menu)
    _, menu_name = spec.load()  # compile once here: a bad menu fails fast
    farm = FarmReplay(spec, Path(args.out), config=config, menu_name=menu_name, on_incident=print_incident,
                      address=args.address, num_cpus=args.num_cpus, include_dashboard=args.dashboard,
                      mapping=args.mapping, on_note=lambda note: print(f"trigger: {note}", file=sys.stderr))
    summary = farm.run(list(args.files), backfill=list(args.backfill))
    print_summary(summary, out_dir=args.out)
    if "pacing" in summary:
        from trigger.cli.replay import pacing_line

        print(pacing_line(summary["pacing"]), file=sys.stderr)
    f = summary["farm"]
    print(f"farm: pool {f['pool']['final']} (peak {f['pool']['peak']}), deadtime {f['deadtime_fraction']:.1%}, "
          f"{f['redispatched_batches']} batches re-dispatched, {len(f['scaling_events'])} scaling decisions"
          + (f", backfill {f['backfill']['events_in']:,} events" if f["backfill"]["events_in"] else ""))
    return exit_status(summary, out_dir=args.out)
