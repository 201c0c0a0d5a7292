"""``trigger menu calibrate|check``: set a path's model threshold for a rate; check a menu and its models."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from trigger.errors import ConfigError, InputError

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``menu`` subcommand and its ``calibrate`` and ``check`` actions."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "menu", help="calibrate model thresholds for a target rate; check a menu and its models",
        description="Work on trigger menus: calibrate a path's score threshold, or check that a menu "
                    "compiles and that every model it declares is found, pinned and loadable.")
    sub = p.add_subparsers(dest="menu_action", metavar="ACTION", required=True)
    c = sub.add_parser("calibrate", help="choose a path's score threshold for a target output rate",
                       description="Scores FILES with the path's model, picks the lowest threshold whose path "
                                   "rate is at most --target-rate-hz, and rewrites that one number in the menu "
                                   "(comments and layout are kept).")
    c.add_argument("files", nargs="+", metavar="FILES", help="representative event files (Parquet/IPC/ROOT)")
    c.add_argument("--menu", required=True, help="the menu YAML to calibrate")
    c.add_argument("--path", required=True, help="the trigger path whose threshold to set")
    c.add_argument("--model", default=None, help="the model (default: the path's only model)")
    c.add_argument("--target-rate-hz", type=float, required=True, help="wanted output rate of the path (Hz)")
    c.add_argument("--input-rate-hz", type=float, required=True, help="event rate the files stand for (Hz)")
    c.add_argument("--out", default=None, help="write the menu here (default: rewrite --menu in place)")
    c.add_argument("--max-events", type=int, default=2_000_000, help="read at most this many events")
    c.add_argument("--dry-run", action="store_true", help="print the threshold, write nothing")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    k = sub.add_parser("check", help="compile a menu and load every model it declares")
    k.add_argument("--menu", default=None, help="the menu YAML (default: the shipped default menu)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to ``calibrate`` or ``check``."""
    return _calibrate(args) if args.menu_action == "calibrate" else _check(args)


def _batches(files: list[str], *, max_events: int) -> Iterator[pa.RecordBatch]:
    from trigger.io.files import expand_inputs
    from trigger.io.sources import open_source

    inputs = expand_inputs(files)
    if inputs.missing:
        raise inputs.missing[0]
    left = max_events
    for file in inputs.files:
        source = open_source(file)
        for shard in source.shards():
            for batch in source.read(shard, batch_size=65_536):
                if left <= 0:
                    return
                batch = batch.slice(0, left)
                left -= batch.num_rows
                yield batch


def _calibrate(args: argparse.Namespace) -> int:
    from trigger.inference.loader import load_scorers
    from trigger.menu import load_menu
    from trigger.menu.calibrate import calibrate_threshold, path_models
    from trigger.menu.menu_text import (
        find_threshold,
        format_threshold,
        replace_threshold,
    )

    menu_path = Path(args.menu)
    try:
        text = menu_path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read menu file {menu_path}: {err.strerror or err}") from None
    menu = load_menu(menu_path)
    # Load only the model to calibrate (the path's only one when --model is not given).
    model = args.model or (sorted(path_models(menu, args.path)) or [None])[0]
    scorers = load_scorers(menu.models, used=[model] if model else None, menu_source=str(menu_path))
    result = calibrate_threshold(menu, path=args.path, model=args.model, target_rate_hz=args.target_rate_hz,
                                 input_rate_hz=args.input_rate_hz,
                                 batches=_batches(args.files, max_events=args.max_events), scorers=scorers)
    site = find_threshold(text, path=args.path, model=result.model, where=f"menu {menu_path}")
    new_text = replace_threshold(text, site, result.threshold)
    out = Path(args.out) if args.out else menu_path
    if not args.dry_run:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(new_text, encoding="utf-8")
        check = load_menu(tmp)  # the rewritten menu must load and carry the new threshold
        cut = next(p for p in check.paths if p.name == args.path).cuts[site.cut_index]
        if format_threshold(result.threshold) not in cut:
            tmp.unlink()
            raise InputError(f"internal: the rewritten cut {cut!r} does not hold the new threshold", source=str(out))
        os.replace(tmp, out)
    if args.json:
        print(json.dumps({**result.to_dict(), "menu": str(out), "written": not args.dry_run}, indent=2))
        return 0
    print(f"path {result.path}: score.{result.model} {result.op} {format_threshold(result.threshold)} "
          f"(was {result.previous:g})")
    print(f"  rate {result.rate_hz:.4g} Hz for a target of {result.target_rate_hz:g} Hz at {result.input_rate_hz:g} Hz "
          f"input ({result.selected:,} of {result.events:,} events, +-{100 * result.relative_uncertainty:.1f}% "
          f"statistical); without the score cut the path would give {result.max_rate_hz:.4g} Hz")
    if result.selected < 100:
        print(f"  warning: only {result.selected} events set this threshold; give more events for a precise rate",
              file=sys.stderr)
    print(f"  {'would write' if args.dry_run else 'wrote'} {out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from trigger.inference.loader import load_scorers
    from trigger.menu import compile_menu, default_menu_path, load_menu

    menu = load_menu(Path(args.menu) if args.menu else default_menu_path())
    compiled = compile_menu(menu)
    print(f"menu {menu.name} (version {menu.version}) from {menu.source}: {len(compiled.paths)} paths compile")
    scorers = load_scorers(menu.models, menu_source=menu.source)  # every declared model, used or not
    for name, scorer in scorers.items():
        users = [p.name for p in compiled.paths if name in p.models]
        s = scorer.session
        print(f"  model {name}: {s.file}\n    sha256 pinned and matching; input {s.input.describe()}; "
              f"{scorer.kind} scorer\n    {s.report.describe()}; warm-up {1000 * s.warmup_s:.1f} ms\n"
              f"    used by: {', '.join(users) or 'no path (declared but unused: it will not be loaded)'}")
    undeclared = sorted(compiled.models - set(scorers))
    if undeclared:
        print(f"  error: paths read score.{', score.'.join(undeclared)} but `models:` does not declare them",
              file=sys.stderr)
        return 1
    print("ok")
    return 0
