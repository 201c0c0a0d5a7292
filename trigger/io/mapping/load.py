"""Loading mappings from YAML, and the mappings shipped with ``trigger``.

The format (see ``trigger/mappings/*.yaml`` for complete examples)::

    mapping: my_layout                # name
    description: one line
    tree: Events                      # ROOT only; default: the file's only tree
    header: {run: Run, luminosity_block: 0, event: Event}   # timestamp_ns optional (0)
    collections:
      muons:                          # jagged branches: one object per element
        fields: {pt: Muon_pt, eta: Muon_eta, phi: Muon_phi, mass: Muon_mass,
                 charge: Muon_charge, iso: Muon_pfRelIso04_all}
      electrons:                      # flat per-object branches gathered into slots
        objects:
          - {pt: "sqrt(px1*px1 + py1*py1)", eta: "asinh(pz1 / hypot(px1, py1))", ...}
          - {pt: {expr: pt2, unit: MeV}, ...}
        select: pt > 0                # drop empty slots
    met: {met_pt: [MET_pt, PFMET_pt], met_phi: [MET_phi, PFMET_phi]}   # first that exists
    extras: ["HLT_*", M, {dimuon_m: M}]   # carried through (globs; or name: expression)
    dedup: [Run, Event]               # consecutive rows of one event: keep the first

A value is a number, an expression (a branch name is the simplest), a list of
alternative expressions, or ``{expr: ..., unit: MeV}`` / ``{expr: ..., scale: 0.001}``.
Collections not listed are empty in every event.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trigger.errors import ConfigError, closest_names
from trigger.io.mapping.derive import parse_mapping_expr
from trigger.io.mapping.model import (
    UNITS,
    CollectionSpec,
    DedupSpec,
    EventMapping,
    FieldSpec,
)
from trigger.schema import COLLECTIONS, HEADER, MET, RAW

__all__ = ["load_mapping", "mapping_from_dict", "shipped_mapping_names", "shipped_mappings"]

_TOP_KEYS = ("mapping", "description", "tree", "header", "collections", "met", "extras", "dedup", "sort_by_pt", "version")
_REQUIRED_HEADER = ("run", "luminosity_block", "event")


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _keys(where: str, data: Any, allowed: tuple[str, ...] | list[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(where, f"expected a mapping of keys to values, found {type(data).__name__} {data!r}")
    for key in data:
        if key not in allowed:
            near = closest_names(str(key), allowed)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            raise _fail(where, f"unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")
    return data


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field(where: str, target: str, value: Any) -> FieldSpec:
    """Parse one value: number, expression, alternatives, or {expr, unit|scale}."""
    factor = 1.0
    if isinstance(value, dict):
        _keys(where, value, ("expr", "unit", "scale"))
        if "expr" not in value:
            raise _fail(where, "a value given as a mapping needs `expr:` (the branch or expression)")
        if "unit" in value and "scale" in value:
            raise _fail(where, "give `unit` or `scale`, not both")
        if "unit" in value:
            if value["unit"] not in UNITS:
                raise _fail(where, f"unknown unit {value['unit']!r}; known: {', '.join(UNITS)}")
            factor = UNITS[value["unit"]]
        elif "scale" in value:
            if not _number(value["scale"]):
                raise _fail(where, f"scale must be a number, found {value['scale']!r}")
            factor = float(value["scale"])
        value = value["expr"]
    if _number(value):
        return FieldSpec(target, constant=float(value) * factor)
    texts = value if isinstance(value, list) else [value]
    if not texts or not all(isinstance(t, str) for t in texts):
        raise _fail(where, f"expected a number, an expression (quote it) or a list of alternative "
                           f"expressions, found {value!r}")
    choices = tuple(parse_mapping_expr(t, where=where) for t in texts)
    return FieldSpec(target, choices=choices, factor=factor)


def _struct_fields(where: str, coll: str, data: Any) -> dict[str, FieldSpec]:
    names = [f.name for f in COLLECTIONS[coll]]
    _keys(where, data, names)
    missing = [n for n in names if n not in data]
    if missing:
        raise _fail(where, f"no value for {', '.join(missing)}; every field of {coll} needs a branch, "
                           f"an expression or a number (e.g. `{missing[0]}: 0` when the layout lacks it)")
    return {n: _field(f"{where}.{n}", f"{coll}.{n}", data[n]) for n in names}


def _collection(where: str, coll: str, data: Any) -> CollectionSpec:
    _keys(where, data, ("fields", "objects", "select"))
    if ("fields" in data) == ("objects" in data):
        raise _fail(where, "give either `fields:` (jagged branches, one object per element) or "
                           "`objects:` (a list of flat per-object branch sets), not both or neither")
    select = None
    if data.get("select") is not None:
        select = parse_mapping_expr(data["select"], where=f"{where}.select", condition=True)
        unknown = sorted(select.names - {f.name for f in COLLECTIONS[coll]})
        if unknown:
            raise _fail(f"{where}.select", f"{', '.join(unknown)} not a field of {coll}; select reads the mapped "
                                           f"fields ({', '.join(f.name for f in COLLECTIONS[coll])})")
    if "fields" in data:
        return CollectionSpec(coll, fields=_struct_fields(f"{where}.fields", coll, data["fields"]), select=select)
    slots = data["objects"]
    if not isinstance(slots, list) or not slots:
        raise _fail(f"{where}.objects", "expected a non-empty list, one entry of fields per object slot")
    objects = tuple(_struct_fields(f"{where}.objects[{i}]", coll, s) for i, s in enumerate(slots))
    return CollectionSpec(coll, objects=objects, select=select)


def _extras(where: str, data: Any) -> tuple[tuple[str, ...], dict[str, FieldSpec]]:
    if not isinstance(data, list):
        raise _fail(where, f"expected a list of branch names, globs (HLT_*) or `name: expression` entries, found {data!r}")
    names: list[str] = []
    derived: dict[str, FieldSpec] = {}
    reserved = {*HEADER, *COLLECTIONS, *MET, RAW}
    for i, item in enumerate(data):
        if isinstance(item, str):
            if item in reserved:
                raise _fail(f"{where}[{i}]", f"{item!r} is an event-model column; map it in header/collections/met")
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            (name, value), = item.items()
            if name in reserved:
                raise _fail(f"{where}[{i}]", f"{name!r} is an event-model column; choose another name")
            derived[str(name)] = _field(f"{where}.{name}", str(name), value)
        else:
            raise _fail(f"{where}[{i}]", f"expected a branch name, a glob or one `name: expression`, found {item!r}")
    return tuple(names), derived


def mapping_from_dict(data: Any, *, origin: Path | None = None) -> EventMapping:
    """Validate a parsed YAML document into an :class:`EventMapping`.

    Raises:
        ConfigError: Naming the file, the key and what was expected.
    """
    where = f"mapping {origin}" if origin else "mapping"
    _keys(where, data, _TOP_KEYS)
    name = data.get("mapping")
    if not isinstance(name, str) or not name:
        raise _fail(where, "needs `mapping: <name>`")
    where = f"mapping {name!r}" + (f" ({origin})" if origin else "")
    header_data = _keys(f"{where}: header", data.get("header", {}), list(HEADER))
    missing = [h for h in _REQUIRED_HEADER if h not in header_data]
    if missing:
        raise _fail(f"{where}: header", f"no value for {', '.join(missing)} (use 0 when the layout lacks it)")
    header = {h: _field(f"{where}: header.{h}", h, v) for h, v in header_data.items()}
    header.setdefault("timestamp_ns", FieldSpec("timestamp_ns", constant=0.0))
    colls_data = _keys(f"{where}: collections", data.get("collections", {}), list(COLLECTIONS))
    collections = {c: _collection(f"{where}: collections.{c}", c, v) for c, v in colls_data.items()}
    met_data = _keys(f"{where}: met", data.get("met", {}), list(MET))
    if set(met_data) != set(MET):
        raise _fail(f"{where}: met", f"needs {' and '.join(MET)} (use 0 when the layout has no MET)")
    met = {m: _field(f"{where}: met.{m}", m, v) for m, v in met_data.items()}
    extras, derived = _extras(f"{where}: extras", data.get("extras", []))
    dedup = None
    if data.get("dedup") is not None:
        keys = data["dedup"]
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
            raise _fail(f"{where}: dedup", f"expected a list of branch names identifying an event, found {keys!r}")
        dedup = DedupSpec(tuple(keys))
    sort = data.get("sort_by_pt", True)
    if not isinstance(sort, bool):
        raise _fail(f"{where}: sort_by_pt", f"expected true or false, found {sort!r}")
    tree = data.get("tree")
    if tree is not None and not isinstance(tree, str):
        raise _fail(f"{where}: tree", f"expected a tree name, found {tree!r}")
    return EventMapping(name=name, description=str(data.get("description", "")), origin=origin, tree=tree,
                        header=header, collections=collections, met=met, extras=extras,
                        derived_extras=derived, dedup=dedup, sort_by_pt=sort)


def _shipped_dir() -> Any:
    return resources.files("trigger") / "mappings"


def shipped_mapping_names() -> list[str]:
    """Names of the mappings shipped in ``trigger/mappings/`` (sorted)."""
    return sorted(p.name[:-5] for p in _shipped_dir().iterdir() if p.name.endswith(".yaml"))


def shipped_mappings() -> list[EventMapping]:
    """Every shipped mapping, loaded (sorted by name)."""
    return [load_mapping(n) for n in shipped_mapping_names()]


def load_mapping(spec: str | Path) -> EventMapping:
    """Load a mapping by shipped name (``cms_nanoaod``) or YAML path.

    Raises:
        ConfigError: If no such mapping exists (with the closest shipped names),
            or the YAML is invalid.
    """
    text_spec = str(spec)
    shipped = shipped_mapping_names()
    if text_spec in shipped:
        path = Path(str(_shipped_dir() / f"{text_spec}.yaml"))
    else:
        path = Path(text_spec)
        if not path.is_file():
            near = closest_names(text_spec, shipped)
            hint = f" (did you mean {', '.join(repr(n) for n in near)}?)" if near else ""
            raise ConfigError(f"mapping {text_spec!r}: no such file and no shipped mapping of that name{hint}; "
                              f"shipped: {', '.join(shipped)}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"mapping {path}: cannot read YAML: {err}") from err
    return mapping_from_dict(data, origin=path)
