"""Binding a mapping to one file's branches: which to read, checked before any data is read.

:func:`bind_mapping` resolves alternatives and globs against the file's
branch types, checks that every branch exists and has a usable type (one
number per event for header, MET, slots and extras; a list of numbers per event
for jagged collections) and compiles the expressions. Every problem is
collected, so ``trigger inspect`` can list them all; a replay refuses the file
with the first one named (:class:`~trigger.errors.InputError` with ``column``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from trigger.errors import ConfigError, InputError, closest_names
from trigger.io.mapping.columns import BranchType
from trigger.io.mapping.model import EventMapping, FieldSpec
from trigger.schema import COLLECTIONS, event_schema

__all__ = ["BoundField", "BoundMapping", "Problem", "bind_mapping", "mapping_problems"]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a mapping cannot read a file.

    Attributes:
        column: The branch concerned (or the target, when no branch is).
        message: What is wrong and what was expected.
    """

    column: str
    message: str


@dataclass(frozen=True)
class BoundField:
    """A field spec bound to a file: evaluate it on a chunk.

    Attributes:
        target: What it fills (``muons.pt``).
        names: Branches it reads.
        bare: The branch, when the value is that branch as it is.
        constant: The value, when it is a number.
        factor: Unit factor.
    """

    target: str
    names: frozenset[str] = frozenset()
    bare: str | None = None
    constant: float | None = None
    factor: float = 1.0
    fn: Callable[[Mapping[str, np.ndarray]], Any] | None = field(default=None, repr=False, compare=False)

    def evaluate(self, ctx: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Values for ``n`` rows (events or objects) from ``ctx`` (name -> array of length n)."""
        if self.constant is not None:
            return np.full(n, self.constant)
        if self.bare is not None:
            values = ctx[self.bare]
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                values = self.fn(ctx)  # type: ignore[misc]
            if np.ndim(values) == 0:
                values = np.full(n, values)
        return values * self.factor if self.factor != 1.0 else values


@dataclass(frozen=True)
class BoundMapping:
    """A mapping bound to one file layout (see :mod:`trigger.io.mapping.build` for applying it).

    Attributes:
        mapping: The mapping.
        branches: Every branch to read, in file order.
        header: Header column -> bound field.
        jagged: Collection -> field -> bound field (jagged layouts).
        slots: Collection -> one field dict per slot (flat layouts).
        selects: Collection -> compiled object condition.
        met: MET column -> bound field.
        extras: Extra column -> bound field (carried branches are bare fields).
        dedup_keys: Branches identifying an event, when rows repeat.
        schema: The output schema (event model + extras).
    """

    mapping: EventMapping
    branches: tuple[str, ...]
    header: dict[str, BoundField]
    jagged: dict[str, dict[str, BoundField]]
    slots: dict[str, list[dict[str, BoundField]]]
    selects: dict[str, Callable[[Mapping[str, np.ndarray]], Any]]
    met: dict[str, BoundField]
    extras: dict[str, BoundField]
    dedup_keys: tuple[str, ...]
    schema: pa.Schema


class _Binder:
    def __init__(self, mapping: EventMapping, types: Mapping[str, BranchType]) -> None:
        self.mapping = mapping
        self.types = types
        self.problems: list[Problem] = []
        self.read: set[str] = set()

    def missing(self, name: str, target: str) -> Problem:
        near = closest_names(name, self.types)
        hint = f"; closest present: {', '.join(near)}" if near else ""
        return Problem(name, f"branch {name!r} is missing (mapping {self.mapping.name!r} reads it for {target}){hint}")

    def check_type(self, name: str, target: str, *, want: str) -> None:
        t = self.types[name]
        if not t.numeric or t.kind == "other":
            self.problems.append(Problem(name, f"branch {name!r} holds {t.text}; {target} needs numbers"))
        elif want == "flat" and t.kind != "flat":
            self.problems.append(Problem(name, f"branch {name!r} holds {t.text} (a list per event); "
                                               f"{target} needs one value per event"))
        elif want == "jagged" and t.kind != "jagged":
            self.problems.append(Problem(name, f"branch {name!r} holds {t.text} (one value per event); "
                                               f"{target} needs a list per event (one value per object)"))

    def field(self, spec: FieldSpec, *, want: str) -> BoundField:
        """Bind one spec; ``want`` is ``flat`` (one value per event) or ``jagged`` (one per object)."""
        if spec.constant is not None:
            return BoundField(spec.target, constant=spec.constant)
        for choice in spec.choices:
            if all(n in self.types for n in choice.names):
                break
        else:
            first = spec.choices[0]
            absent = sorted(n for n in first.names if n not in self.types)
            problem = self.missing(absent[0], spec.target)
            if len(spec.choices) > 1:
                problem = Problem(problem.column, problem.message + f" (no alternative exists either: "
                                  f"{', '.join(c.text for c in spec.choices[1:])})")
            self.problems.append(problem)
            return BoundField(spec.target)
        for n in sorted(choice.names):
            self.check_type(n, spec.target, want=want)
        self.read |= choice.names
        try:
            fn = None if choice.bare else choice.bind(choice.names)
        except ConfigError as err:
            self.problems.append(Problem(spec.target, str(err)))
            return BoundField(spec.target)
        return BoundField(spec.target, choice.names, choice.bare, None, spec.factor, fn)

    def extras(self) -> dict[str, BoundField]:
        out: dict[str, BoundField] = {}
        for pattern in self.mapping.extras:
            if any(ch in pattern for ch in "*?["):
                matched = [n for n, t in self.types.items()
                           if fnmatch.fnmatchcase(n, pattern) and t.kind == "flat" and t.numeric]
            elif pattern not in self.types:
                self.problems.append(self.missing(pattern, "an extra column"))
                continue
            else:
                self.check_type(pattern, f"extra column {pattern}", want="flat")
                matched = [pattern]
            for n in matched:
                out[n] = BoundField(n, frozenset([n]), bare=n)
                self.read.add(n)
        for name, spec in self.mapping.derived_extras.items():
            out[name] = self.field(spec, want="flat")
        return out


def _extra_type(bound: BoundField, types: Mapping[str, BranchType]) -> pa.DataType:
    if bound.bare is not None and bound.factor == 1.0:
        return pa.from_numpy_dtype(types[bound.bare].dtype)
    return pa.float64()


def _bind(mapping: EventMapping, types: Mapping[str, BranchType]) -> tuple[BoundMapping | None, list[Problem]]:
    b = _Binder(mapping, types)
    header = {h: b.field(s, want="flat") for h, s in mapping.header.items()}
    jagged: dict[str, dict[str, BoundField]] = {}
    slots: dict[str, list[dict[str, BoundField]]] = {}
    selects: dict[str, Any] = {}
    for coll, spec in mapping.collections.items():
        if spec.fields is not None:
            jagged[coll] = {f: b.field(s, want="jagged") for f, s in spec.fields.items()}
            if not any(s.choices for s in spec.fields.values()):
                b.problems.append(Problem(coll, f"{coll}: `fields:` reads no branch, so the number of objects "
                                                "is unknown; map at least one field to a jagged branch"))
        else:
            slots[coll] = [{f: b.field(s, want="flat") for f, s in slot.items()} for slot in spec.objects]
        if spec.select is not None:
            selects[coll] = spec.select.bind([f.name for f in COLLECTIONS[coll]], condition=True)
    met = {m: b.field(s, want="flat") for m, s in mapping.met.items()}
    extras = b.extras()
    keys = mapping.dedup.keys if mapping.dedup else ()
    for k in keys:
        if k not in types:
            b.problems.append(b.missing(k, "dedup"))
        else:
            b.check_type(k, "dedup", want="flat")
            b.read.add(k)
    if b.problems:
        return None, b.problems
    schema = event_schema()
    for name, bound in extras.items():
        schema = schema.append(pa.field(name, _extra_type(bound, types)))
    branches = tuple(n for n in types if n in b.read)
    return BoundMapping(mapping, branches, header, jagged, slots, selects, met, extras, keys, schema), []


def mapping_problems(mapping: EventMapping, types: Mapping[str, BranchType]) -> list[Problem]:
    """Every reason why ``mapping`` cannot read a file with these branches (empty: it fits)."""
    return _bind(mapping, types)[1]


def bind_mapping(mapping: EventMapping, types: Mapping[str, BranchType], *, source: str | None = None) -> BoundMapping:
    """Bind ``mapping`` to a file's branches.

    Args:
        mapping: The mapping.
        types: The file's branch (or column) types.
        source: The file, for messages.

    Returns:
        The bound mapping.

    Raises:
        InputError: Naming the file and the (first) branch that is missing or
            has the wrong type, and listing the other problems.
    """
    bound, problems = _bind(mapping, types)
    if bound is None:
        more = f" (and {len(problems) - 1} more: " + "; ".join(p.message for p in problems[1:4]) + \
            (" ..." if len(problems) > 4 else "") + ")" if len(problems) > 1 else ""
        raise InputError(f"mapping {mapping.name!r} cannot read this file: {problems[0].message}{more}",
                         source=source, column=problems[0].column)
    return bound
