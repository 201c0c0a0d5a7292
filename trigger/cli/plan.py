"""``trigger plan``: the farm size for an input rate, from measured per-node figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "default_results", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``plan`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="size a farm (nodes, GPUs, network) for an input rate from measured figures",
        description="Size a filter farm for a detector's input rate: nodes, GPUs and network per node, from "
        "per-node figures measured by `trigger bench` (results files), with the assumptions printed and the "
        "bottleneck named (compute, gpu, network, storage write, or latency when the budget cannot be met).",
        epilog="example: trigger plan --input-rate 10PB/s --event-size 7.4MB --latency-budget 200ms",
    )
    p.add_argument("--input-rate", required=True, metavar="RATE",
                   help="into the farm: bytes/s (10PB/s, 30Tbit/s) or events/s (100kHz, 30MHz)")
    p.add_argument("--event-size", required=True, metavar="SIZE", help="bytes per event, payload included (7.4MB)")
    p.add_argument("--latency-budget", default="200ms", metavar="TIME", help="decision latency budget (default 200ms)")
    p.add_argument("--accept-rate", default="5%", metavar="FRACTION|RATE",
                   help="events kept: a fraction (5%%, 0.05) or a rate (5kHz); default 5%%")
    p.add_argument("--results", nargs="+", metavar="FILE",
                   help="benchmark results to take the figures from (default: bench/results/*.json, if any)")
    p.add_argument("--node-cores", type=int, default=64, help="CPU cores per node (default 64)")
    p.add_argument("--gpus-per-node", type=int, default=0, help="GPUs per node (default 0)")
    p.add_argument("--nic-gbps", type=float, default=100.0, help="NIC per node in Gbit/s (default 100)")
    p.add_argument("--storage-write-gbps", type=float, default=None,
                   help="storage write rate per node in Gbit/s (default: not a per-node limit)")
    p.add_argument("--core-rate", metavar="RATE", help="override: events/s per core end to end (2MHz, 2e6/s)")
    p.add_argument("--copy-rate", metavar="RATE", help="override: payload bytes/s one core copies (8GB/s)")
    p.add_argument("--gpu-rate", metavar="RATE", help="override: events/s per GPU through the models (1MHz)")
    p.add_argument("--model-fraction", default="0", metavar="FRACTION",
                   help="fraction of events reaching a model after the seeds (default 0: no models)")
    p.add_argument("--utilization", type=float, default=0.7, help="busy fraction to size for (default 0.7)")
    p.add_argument("--credits", type=int, default=2, help="in-flight batches per filter (default 2)")
    p.add_argument("--ingest-copies", type=int, default=1,
                   help="CPU copies of each input byte on receipt (default 1; 0 with RDMA)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.set_defaults(func=run)


def default_results() -> list[Path]:
    """``bench/results/*.json`` of the installed benchmarks (``trigger_bench``), if any."""
    try:
        import trigger_bench
    except ImportError:
        return []
    return sorted((Path(trigger_bench.__file__).resolve().parent / "results").glob("*.json"))


def _fraction(text: str, what: str) -> float:
    from trigger.errors import ConfigError

    compact = text.strip()
    try:
        value = float(compact[:-1]) / 100 if compact.endswith("%") else float(compact)
    except ValueError:
        raise ConfigError(f"{what} {text!r}: expected a fraction such as 0.3 or 30%") from None
    if not 0 <= value <= 1:
        raise ConfigError(f"{what} {text!r}: must be between 0 and 1 (0% and 100%)")
    return value


def _events_per_s(text: str, what: str) -> float:
    from trigger.plan.units import parse_input_rate

    try:
        return float(text)
    except ValueError:
        pass
    rate = parse_input_rate(text, what=what)
    if rate.unit != "events":
        from trigger.errors import ConfigError

        raise ConfigError(f"{what} {text!r}: expected events/s (2MHz, 2e6/s), not a byte rate")
    return rate.per_s


def build_plan(args: argparse.Namespace) -> Any:
    """The plan for parsed arguments.

    Raises:
        ConfigError: A quantity that does not parse, or no per-core rate measured or given.
    """
    from trigger.errors import ConfigError
    from trigger.plan import CapacityPlanner, NodeProfile, Requirement, load_figures
    from trigger.plan.units import (
        parse_accept,
        parse_bytes,
        parse_duration,
        parse_input_rate,
    )

    size = parse_bytes(args.event_size, what="--event-size")
    rate = parse_input_rate(args.input_rate, what="--input-rate")
    input_bytes = rate.per_s if rate.unit == "bytes" else rate.per_s * size
    accept = parse_accept(args.accept_rate, input_events_per_s=input_bytes / size)
    req = Requirement(input_bytes_per_s=input_bytes, event_size_bytes=size,
                      latency_budget_s=parse_duration(args.latency_budget, what="--latency-budget"),
                      accept_fraction=accept)
    results = [Path(p) for p in args.results] if args.results else default_results()
    figures = load_figures(results)
    sources = list(figures.sources)
    core = figures.core_events_per_s
    if args.core_rate:
        core = _events_per_s(args.core_rate, "--core-rate")
        sources.append(f"{core:,.0f} events/s per core: given (--core-rate)")
    if core is None:
        where = ", ".join(str(p) for p in results) or "none found in bench/results"
        raise ConfigError(f"no measured events/s per core in the results files ({where}); run "
                          "`trigger bench replay` (writes bench/results/replay.json) and pass it with --results, "
                          "or give the rate with --core-rate")
    optional: dict[str, Any] = {}
    if args.copy_rate:
        copy = parse_input_rate(args.copy_rate, what="--copy-rate")
        if copy.unit != "bytes":
            raise ConfigError(f"--copy-rate {args.copy_rate!r}: expected bytes/s (8GB/s)")
        optional["copy_bytes_per_s"] = copy.per_s
        sources.append(f"{args.copy_rate} copy per core: given (--copy-rate)")
    elif figures.copy_bytes_per_s:
        optional["copy_bytes_per_s"] = figures.copy_bytes_per_s
    else:
        sources.append("5 GB/s copy per core: assumed (no payload sweep in the results)")
    gpu_rate = _events_per_s(args.gpu_rate, "--gpu-rate") if args.gpu_rate else figures.gpu_events_per_s
    if args.gpu_rate:
        sources.append(f"{gpu_rate:,.0f} events/s per GPU: given (--gpu-rate)")
    if args.storage_write_gbps is not None and args.storage_write_gbps <= 0:
        raise ConfigError(f"--storage-write-gbps must be above 0, got {args.storage_write_gbps}")
    if args.nic_gbps <= 0:
        raise ConfigError(f"--nic-gbps must be above 0, got {args.nic_gbps}")
    profile = NodeProfile(
        cores=args.node_cores, gpus=args.gpus_per_node, nic_bytes_per_s=args.nic_gbps * 1e9 / 8,
        core_events_per_s=core, core_scaling=figures.core_scaling or 1.0, ingest_copies=args.ingest_copies,
        gpu_events_per_s=gpu_rate, model_fraction=_fraction(args.model_fraction, "--model-fraction"),
        storage_write_bytes_per_s=None if args.storage_write_gbps is None else args.storage_write_gbps * 1e9 / 8,
        target_utilization=args.utilization, credits=args.credits,
        driver_cpu_s_per_batch=figures.driver_cpu_s_per_batch, sources=tuple(sources), **optional)
    return CapacityPlanner(profile).plan(req)


def run(args: argparse.Namespace) -> int:
    """Print the plan; exit 0 (1 with a message on bad input, via the CLI's error handling)."""
    from trigger.plan import render_plan

    plan = build_plan(args)
    if args.json:
        print(json.dumps(plan.to_dict(), indent=2))
    else:
        print(render_plan(plan))
    return 0
