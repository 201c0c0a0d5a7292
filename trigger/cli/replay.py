"""``trigger replay``: replay event files through the menu on this machine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

# load_engine lives in the engine layer (the farm's actors use it too); re-exported here.
from trigger.engine.load import load_engine

__all__ = ["add_parser", "load_engine", "pacing_line", "run"]

DEFAULT_GENERATED_EVENTS = 1_000_000


def add_parser(subparsers: Any) -> None:
    """Add the ``replay`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "replay",
        help="replay event files through a trigger menu on this machine",
        description="Replay recorded or generated event files through a trigger menu. "
        "With no FILES, generates events first (the embedded default).",
    )
    p.add_argument("files", nargs="*", metavar="FILES",
                   help="Parquet, Arrow IPC or ROOT files, directories or globs")
    p.add_argument("--menu", help="trigger menu YAML (default: the shipped default menu)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--batch-size", type=int, default=65_536, help="events per batch (default 65536)")
    p.add_argument("--workers", type=int, default=None, help="engine threads (default: all cores)")
    p.add_argument("--processes", type=_processes, default=0, metavar="N|auto",
                   help="engine processes, this one included (default auto: one per usable core, at most one per "
                   "shard; 1: engine threads in this process instead). Each decides whole shards and writes its own "
                   "parts (part-p<k>-*.parquet): scales with cores where threads contend for the GIL. A paced "
                   "replay (--rate) runs in one process")
    p.add_argument("--queue-depth", type=int, default=4, help="batches buffered between stages")
    p.add_argument("--max-rows-per-file", type=int, default=1_000_000, help="roll output parts after N rows")
    p.add_argument("--generate", type=int, default=DEFAULT_GENERATED_EVENTS, metavar="N",
                   help=f"with no FILES: events to generate first (default {DEFAULT_GENERATED_EVENTS:,})")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")
    p.add_argument("--mapping", metavar="NAME|YAML",
                   help="map every input onto the event model with this mapping (a shipped name such as "
                   "cms_nanoaod or uproot_zmumu, or a YAML file); default: chosen per file where needed "
                   "(see `trigger inspect FILE`)")
    p.add_argument("--rate", metavar="RATE",
                   help="paced replay: emit events at this rate, in events/s (100kHz, 5000) or bytes/s "
                   "(2GB/s, 500MiB/s); the summary reports latency and how far the replay fell behind")
    p.set_defaults(func=run)


def _processes(text: str) -> int:
    """``auto`` (0) or a count >= 1."""
    if text == "auto":
        return 0
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes or 'auto', got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 process (or 'auto'), got {n}")
    return n


def _print_note(note: str) -> None:
    print(f"trigger: {note}", file=sys.stderr, flush=True)


def pacing_line(pacing: dict[str, Any]) -> str:
    """One line on a paced replay: target and achieved rate, how far it fell behind."""
    unit = pacing["unit"]
    return (f"trigger: paced at {pacing['rate']} ({pacing['target_per_s']:,.0f} {unit}): achieved "
            f"{pacing['achieved_per_s']:,.0f} {unit}; behind schedule max {pacing['behind_max_ms']:,.1f} ms, "
            f"at the end {pacing['behind_final_ms']:,.1f} ms; {pacing['late_batches']} of {pacing['batches']} "
            f"batches late by > 1 ms; filling one batch takes {pacing['batch_fill_ms']:,.1f} ms at this rate")


def run(args: argparse.Namespace) -> int:
    """Run the replay; exit 3 when anything was quarantined."""
    from trigger.cli.report import exit_status, print_incident, print_summary
    from trigger.engine.spec import EngineSpec
    from trigger.runtime.local import LocalReplay, ReplayConfig

    kwargs = {} if args.workers is None else {"workers": args.workers}
    config = ReplayConfig(batch_size=args.batch_size, queue_depth=args.queue_depth,
                          max_rows_per_file=args.max_rows_per_file, progress=not args.no_progress,
                          rate=getattr(args, "rate", None), processes=args.processes, **kwargs)
    spec = EngineSpec.from_menu(args.menu)
    # Given the spec, a replay on several processes forks them before any model is loaded
    # (each loads its own) instead of spawning them: ~0.3 s sooner at work (LocalReplay).
    # Either way a bad menu or model pin fails here, before any event is generated.
    engine, menu_name = (spec, "") if config.processes != 1 else spec.load()
    replay = LocalReplay(engine, Path(args.out), config=config, menu_name=menu_name, on_incident=print_incident,
                         mapping=getattr(args, "mapping", None), on_note=_print_note, engine_spec=spec)
    files = list(args.files)
    if not files:
        from trigger.io.dataset import write_dataset
        from trigger.io.generator import GeneratorConfig

        gen_dir = Path(args.out) / "generated"
        print(f"trigger: no FILES given: generating {args.generate:,} events into {gen_dir}/ "
              "(default process mix, seed 1) and replaying them", file=sys.stderr)
        files = [str(p) for p in write_dataset(args.generate, gen_dir, config=GeneratorConfig(), formats=("ipc",))]
    summary = replay.run(files)
    print_summary(summary, out_dir=args.out)
    if "pacing" in summary:
        print(pacing_line(summary["pacing"]), file=sys.stderr)
    return exit_status(summary, out_dir=args.out)
