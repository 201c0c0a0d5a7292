"""``trigger inspect FILE``: what a file holds, and which shipped mapping reads it (or why none does)."""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
from collections import Counter
from typing import Any

__all__ = ["add_parser", "describe_file", "render", "run"]


def add_parser(subparsers: Any) -> None:
    """Add the ``inspect`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "inspect",
        help="show what an event file holds and which mapping fits it",
        description="Show a file's format, trees or columns, types and entries, and whether it follows the "
        "event model or which shipped mapping fits it (or, for each, the branches it misses).",
    )
    p.add_argument("file", metavar="FILE", help="a Parquet, Arrow IPC or ROOT file")
    p.add_argument("--branches", nargs="?", const="*", metavar="GLOB",
                   help="list every branch/column (or those matching GLOB) with its type")
    p.add_argument("--mapping", metavar="NAME|YAML", help="check this mapping instead of the shipped ones")
    p.add_argument("--json", action="store_true", help="print the description as JSON")
    p.set_defaults(func=run)


def _groups(types: dict[str, Any]) -> list[dict[str, Any]]:
    """Branches grouped by prefix (``Muon_pt`` -> ``Muon``), largest groups first."""
    groups: dict[str, Counter[str]] = {}
    for name, t in types.items():
        prefix = name.split("_", 1)[0] if "_" in name else name
        groups.setdefault(prefix, Counter())[t.kind] += 1
    rows = [{"prefix": p, "branches": sum(c.values()), **dict(c)} for p, c in groups.items()]
    return sorted(rows, key=lambda r: (-r["branches"], r["prefix"]))


def _mappings(types_for: Any, mapping: str | None) -> list[dict[str, Any]]:
    from trigger.io.mapping import fit_report, load_mapping

    candidates = None if mapping is None else [load_mapping(mapping)]
    out = []
    for m, problems in fit_report(types_for, candidates=candidates):
        out.append({"mapping": m.name, "description": m.description, "fits": not problems,
                    "problems": [{"branch": p.column, "message": p.message} for p in problems]})
    return out


def describe_file(path: str, *, mapping: str | None = None) -> dict[str, Any]:
    """Describe a file: format, size, trees/columns with types and entries, mapping fits.

    Raises:
        InputError: If the file cannot be opened or is in no known format.
    """
    from trigger.errors import InputError, SchemaError
    from trigger.io.mapping import types_from_arrow
    from trigger.io.sources import detect_format, open_source

    fmt = detect_format(path)
    out: dict[str, Any] = {"file": path, "format": fmt, "size_bytes": os.path.getsize(path)}
    if fmt == "root":
        from trigger.io.mapping import types_from_uproot
        from trigger.io.root import list_trees, open_root_file

        with open_root_file(path) as file:
            trees = {}
            for name in list_trees(file):
                types = types_from_uproot(file[name])
                trees[name] = {"entries": int(file[name].num_entries), "types": types}
            out["trees"] = {n: {"entries": t["entries"], "branches": len(t["types"]), "groups": _groups(t["types"]),
                                "columns": {b: v.text for b, v in t["types"].items()}} for n, t in trees.items()}

            def types_for(m: Any) -> Any:
                name = m.tree or (next(iter(trees)) if len(trees) == 1 else None)
                if name not in trees:
                    raise InputError(f"no tree {m.tree!r}; trees: {', '.join(trees) or 'none'}", source=path)
                return trees[name]["types"]

            out["mappings"] = _mappings(types_for, mapping)
        return out
    source = open_source(path, mapping=None)
    inner = getattr(source, "inner", source)
    schema = inner.schema()
    shards = inner.shards()
    types = types_from_arrow(schema)
    out.update({"rows": sum(s.num_rows for s in shards), "chunks": len(shards), "groups": _groups(types),
                "columns": {f.name: str(f.type) for f in schema}})
    from trigger.schema import check_structure

    try:
        check_structure(schema, source=path)
        out["event_model"] = True
    except SchemaError as err:
        out["event_model"] = False
        out["event_model_problem"] = err.reason
    out["mappings"] = _mappings(lambda m: types, mapping)
    return out


def render(info: dict[str, Any], *, branches: str | None = None) -> str:
    """The description as text for the terminal."""
    lines = [f"{info['file']}: {info['format']}, {info['size_bytes']:,} bytes"]

    def columns(cols: dict[str, str]) -> None:
        for name, text in cols.items():
            if branches is not None and fnmatch.fnmatchcase(name, branches):
                lines.append(f"    {name:<40} {text}")

    def groups(rows: list[dict[str, Any]]) -> None:
        shown = ", ".join(f"{g['prefix']} {g['branches']}" + (f" ({g['jagged']} jagged)" if g.get("jagged") else "")
                          for g in rows[:12])
        more = f", and {len(rows) - 12} more groups" if len(rows) > 12 else ""
        lines.append(f"  by prefix: {shown}{more}")

    for name, tree in info.get("trees", {}).items():
        lines.append(f"tree {name}: {tree['entries']:,} entries, {tree['branches']:,} branches")
        groups(tree["groups"])
        columns(tree["columns"])
    if "rows" in info:
        lines.append(f"{info['rows']:,} rows in {info['chunks']} chunks (row groups or record batches), "
                     f"{len(info['columns'])} columns")
        groups(info["groups"])
        columns(info["columns"])
        lines.append("follows the event model: replay it as it is (no mapping needed)" if info["event_model"]
                     else f"does not follow the event model: {info['event_model_problem']}")
    if branches is None:
        lines.append("  (list branches with --branches, or --branches 'Muon_*')")
    for m in [] if info.get("event_model") else info["mappings"]:  # a model file needs no mapping
        if m["fits"]:
            lines.append(f"mapping {m['mapping']}: fits ({m['description']})")
        else:
            lines.append(f"mapping {m['mapping']}: does not fit:")
            lines += [f"    - {p['message']}" for p in m["problems"][:8]]
            if len(m["problems"]) > 8:
                lines.append(f"    ... and {len(m['problems']) - 8} more")
    if not any(m["fits"] for m in info["mappings"]) and not info.get("event_model"):
        lines.append("no shipped mapping fits: write one (see trigger/mappings/*.yaml) and pass it with --mapping")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the description; exit 0."""
    info = describe_file(args.file, mapping=args.mapping)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        print(render(info, branches=args.branches))
    return 0
