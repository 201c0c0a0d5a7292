"""What a mapping says: how a file's branches become the event model (validated, not yet bound).

A mapping is declarative (YAML, see :mod:`trigger.io.mapping.load`). Every
target value (a header column, an object field, MET, an extra column) is a
:class:`FieldSpec`: a number, or an expression over the file's branches in the
menu's safe expression language (a bare branch name is the simplest
expression), with alternatives for layouts that differ between versions and
a unit factor. Binding a mapping to one file's branches happens in
:mod:`trigger.io.mapping.bind`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trigger.io.mapping.derive import ParsedExpr

__all__ = ["CollectionSpec", "DedupSpec", "EventMapping", "FieldSpec", "UNITS"]

#: Unit -> factor to the event model's units (GeV, radians).
UNITS: dict[str, float] = {
    "GeV": 1.0, "MeV": 1e-3, "keV": 1e-6, "TeV": 1e3,
    "rad": 1.0, "mrad": 1e-3, "deg": 0.017453292519943295,
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one target value is computed.

    Attributes:
        target: What it fills, e.g. ``run``, ``muons.pt``, ``met_pt``, ``HLT_IsoMu24``.
        choices: Alternative expressions, tried in order: the first whose branches
            all exist in the file is used (empty for a constant).
        constant: The value when it is a number instead of an expression.
        factor: Unit scaling applied to the result (from ``unit`` or ``scale``).
    """

    target: str
    choices: tuple[ParsedExpr, ...] = ()
    constant: float | None = None
    factor: float = 1.0

    def describe(self) -> str:
        """The spec as a short text, for messages."""
        if self.constant is not None:
            return repr(self.constant)
        text = " | ".join(c.text for c in self.choices)
        return text if self.factor == 1.0 else f"({text}) * {self.factor:g}"


@dataclass(frozen=True, slots=True)
class CollectionSpec:
    """One object collection of the event model.

    Exactly one of ``fields`` and ``objects`` is set.

    Attributes:
        name: Collection name (``muons``, ``jets``...).
        fields: Jagged layout: field -> spec over jagged branches (one object per element).
        objects: Flat layout: one field -> spec dict per object slot (``pt1``, ``pt2``...).
        select: Condition on the mapped fields; objects failing it are dropped
            (e.g. empty slots stored as ``pt2 == -999``).
    """

    name: str
    fields: dict[str, FieldSpec] | None = None
    objects: tuple[dict[str, FieldSpec], ...] = ()
    select: ParsedExpr | None = None


@dataclass(frozen=True, slots=True)
class DedupSpec:
    """Dropping repeated rows of one event.

    Consecutive rows with the same key values are one event (files that store
    several candidates per event); the first row is kept.

    Attributes:
        keys: Branches that identify an event, e.g. ``(Run, Event)``.
    """

    keys: tuple[str, ...]


@dataclass(frozen=True)
class EventMapping:
    """A validated mapping from a file layout onto the event model.

    Attributes:
        name: Mapping name (``cms_nanoaod``).
        description: One line for ``trigger inspect``.
        origin: The YAML file it came from (for messages).
        tree: ROOT tree to read (None: the file's only tree; ignored for Arrow files).
        header: ``run``, ``luminosity_block``, ``event``, ``timestamp_ns``.
        collections: Mapped collections; the others are empty in every event.
        met: ``met_pt`` and ``met_phi``.
        extras: Branch names or glob patterns carried through as extra columns.
        derived_extras: Extra columns computed by expressions.
        dedup: Dropping repeated rows, if the layout has them.
        sort_by_pt: Sort each collection by decreasing pt (the model requires it).
    """

    name: str
    description: str
    origin: Path | None
    tree: str | None
    header: dict[str, FieldSpec]
    collections: dict[str, CollectionSpec]
    met: dict[str, FieldSpec]
    extras: tuple[str, ...] = ()
    derived_extras: dict[str, FieldSpec] = field(default_factory=dict)
    dedup: DedupSpec | None = None
    sort_by_pt: bool = True

    def specs(self) -> list[FieldSpec]:
        """Every field spec, in a stable order (header, collections, MET, extras)."""
        out = list(self.header.values())
        for coll in self.collections.values():
            if coll.fields is not None:
                out += coll.fields.values()
            for slot in coll.objects:
                out += slot.values()
        return out + list(self.met.values()) + list(self.derived_extras.values())
