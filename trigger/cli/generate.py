"""``trigger generate``: write a seeded synthetic event dataset (Parquet and/or Arrow IPC)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_MIX", "add_parser", "run"]

#: Mostly QCD background, with enough of each signal to see it after a trigger.
DEFAULT_MIX = "multijet=0.9,zmumu=0.03,wenu=0.03,ttbar=0.03,exotic=0.01"
_FORMATS = {"parquet": ("parquet",), "ipc": ("ipc",), "both": ("parquet", "ipc")}


def _int_at_least(low: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {low}")
        return value

    return parse


def add_parser(subparsers: Any) -> None:
    """Add the ``generate`` subcommand to an argparse subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "generate",
        help="write a synthetic event dataset (Parquet and/or Arrow IPC)",
        description="Generate seeded synthetic collision events (QCD multijet background plus "
        "Z->mumu, W->enu, ttbar and a 1 TeV four-lepton resonance) in the event model, "
        "with a 'process' truth label. The same seed and mix always give the same events.",
    )
    p.add_argument("--events", type=_int_at_least(1), required=True, metavar="N", help="number of events")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--seed", type=_int_at_least(0), default=1, help="random seed (default 1)")
    p.add_argument("--mix", default=DEFAULT_MIX, metavar="P=F,...",
                   help=f"process fractions; unnamed processes get 0 (default {DEFAULT_MIX})")
    p.add_argument("--raw-bytes", type=_int_at_least(0), default=0, metavar="N",
                   help="opaque raw payload bytes per event (default 0: no raw column)")
    p.add_argument("--format", choices=tuple(_FORMATS), default="both", help="file format(s) (default both)")
    p.add_argument("--batch-size", type=_int_at_least(1), default=None, metavar="N",
                   help="events per batch / IPC record batch (default: up to 65536, ~64 MiB)")
    p.add_argument("--pileup", type=float, default=3.0, metavar="MEAN",
                   help="mean number of soft pileup jets per event (default 3)")
    p.add_argument("--run", type=_int_at_least(0), default=1, help="run number (default 1)")
    p.set_defaults(func=run)


def _size(n_bytes: int) -> str:
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def run(args: argparse.Namespace) -> int:
    """Write the dataset and print one line saying what was written.

    Returns:
        0 on success.

    Raises:
        ConfigError: A bad mix or option value (the CLI prints it and exits 1).
    """
    from trigger.io.dataset import write_dataset
    from trigger.io.generator import GeneratorConfig, ProcessMix

    config = GeneratorConfig(seed=args.seed, mix=ProcessMix.parse(args.mix), pileup_mean_jets=args.pileup,
                             raw_bytes_per_event=args.raw_bytes, run=args.run)
    start_s = time.perf_counter()
    files = write_dataset(args.events, args.out, config=config, formats=_FORMATS[args.format],
                          batch_size=args.batch_size)
    elapsed_s = time.perf_counter() - start_s
    sizes = ", ".join(f"{p.name} ({_size(p.stat().st_size)})" for p in files)
    print(f"trigger: wrote {args.events:,} events to {args.out}/: {sizes} + events.json "
          f"in {elapsed_s:.1f} s ({args.events / max(elapsed_s, 1e-9):,.0f} events/s)")
    return 0
