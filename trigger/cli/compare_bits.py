"""``trigger compare-bits``: emulated menu paths versus the trigger bits recorded in the file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "render", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``compare-bits`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "compare-bits",
        help="compare emulated paths with the trigger decisions recorded in the file",
        description="Evaluate a menu's paths on recorded events (e.g. CMS NanoAOD, whose HLT_* bits the "
        "cms_nanoaod mapping carries) and report, path by path and event by event, where the emulation and "
        "the recorded decision agree. Paths are paired with the recorded column of the same name unless "
        "--pair is given.",
    )
    p.add_argument("files", nargs="+", metavar="FILES", help="files, directories or globs")
    p.add_argument("--menu", help="menu YAML (default: the shipped default menu, which emulates "
                   "HLT_IsoMu24 and HLT_Mu50)")
    p.add_argument("--pair", action="append", default=[], metavar="PATH=COLUMN",
                   help="compare menu path PATH with recorded column COLUMN (repeatable)")
    p.add_argument("--mapping", metavar="NAME|YAML", help="mapping onto the event model (default: chosen per file)")
    p.add_argument("--events-out", metavar="FILE.parquet", help="write every event's recorded and emulated bits")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--examples", type=int, default=20, help="disagreeing events listed per path (default 20)")
    p.set_defaults(func=run)


def render(report: dict[str, Any]) -> str:
    """The report as text: a 2x2 table per path, the disagreeing events and why they differ."""
    lines = [f"{report['events']:,} events compared" + (
        f" ({report['quarantined']:,} with impossible values excluded)" if report["quarantined"] else "")]
    kinds: set[str] = set()
    for p in report["paths"]:
        lines.append(f"{p['path']} vs recorded {p['recorded']}: agree on {p['both'] + p['neither']:,} of "
                     f"{p['events']:,} ({p['agreement']:.1%}); both fired {p['both']:,}, only recorded "
                     f"{p['only_recorded']:,}, only emulated {p['only_emulated']:,}, neither {p['neither']:,}")
        for d in p["disagreements"]:
            kinds.add(d["fired"])
            lines.append(f"    run {d['run']} lumi {d['luminosity_block']} event {d['event']}: {d['fired']}; "
                         f"leading muon pt {d['mu1_pt']} GeV, eta {d['mu1_eta']}, iso {d['mu1_iso']}")
    for kind in sorted(kinds):
        lines.append(f"why {kind.replace('_', ' ')}: {report['explanations'][kind]}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the comparison; exit 0 (disagreement is a finding, not an error)."""
    from trigger.errors import ConfigError
    from trigger.menu import compile_menu, default_menu_path, load_menu
    from trigger.runtime.compare import compare_bits

    pairs = {}
    for item in args.pair:
        path, sep, column = item.partition("=")
        if not sep or not path or not column:
            raise ConfigError(f"--pair {item!r}: expected PATH=COLUMN, e.g. HLT_IsoMu24=HLT_IsoMu24")
        pairs[path] = column
    menu = compile_menu(load_menu(Path(args.menu) if args.menu else default_menu_path()))
    result = compare_bits(args.files, menu=menu, pairs=pairs or None, mapping=args.mapping,
                          max_examples=args.examples, table_path=Path(args.events_out) if args.events_out else None,
                          on_note=lambda note: print(f"trigger: {note}", file=sys.stderr, flush=True))
    report = result.to_dict()
    print(render(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
