"""Declarative mappings from recorded file layouts onto the event model.

A mapping (YAML: :mod:`trigger.io.mapping.load`) says how a file's branches or
columns become the event model: collections from jagged branches (NanoAOD
``Muon_pt``...) or from flat per-object branches (``pt1``, ``pt2``), derived
quantities through the menu's safe expression compiler, unit scaling, sorting
by pt, extra columns carried through (``HLT_*`` bits) and dropping repeated
rows of one event. :func:`bind_mapping` checks it against a file's layout before
reading; :func:`apply_mapping` maps one chunk, vectorized.
"""

from __future__ import annotations

from trigger.io.mapping.bind import (
    BoundField,
    BoundMapping,
    Problem,
    bind_mapping,
    mapping_problems,
)
from trigger.io.mapping.build import apply_mapping
from trigger.io.mapping.choose import choose_for_arrow, choose_mapping, fit_report
from trigger.io.mapping.columns import (
    BranchType,
    Column,
    columns_from_arrow,
    columns_from_awkward,
    types_from_arrow,
    types_from_uproot,
)
from trigger.io.mapping.derive import FUNCTIONS, parse_mapping_expr
from trigger.io.mapping.load import (
    load_mapping,
    mapping_from_dict,
    shipped_mapping_names,
    shipped_mappings,
)
from trigger.io.mapping.model import (
    UNITS,
    CollectionSpec,
    DedupSpec,
    EventMapping,
    FieldSpec,
)
from trigger.io.mapping.source import ArrowMappedSource, MappedSource, first_of_runs

__all__ = [
    "FUNCTIONS",
    "UNITS",
    "ArrowMappedSource",
    "BoundField",
    "BoundMapping",
    "BranchType",
    "CollectionSpec",
    "Column",
    "DedupSpec",
    "EventMapping",
    "FieldSpec",
    "MappedSource",
    "Problem",
    "apply_mapping",
    "bind_mapping",
    "choose_for_arrow",
    "choose_mapping",
    "columns_from_arrow",
    "columns_from_awkward",
    "first_of_runs",
    "fit_report",
    "load_mapping",
    "mapping_from_dict",
    "mapping_problems",
    "parse_mapping_expr",
    "shipped_mapping_names",
    "shipped_mappings",
    "types_from_arrow",
    "types_from_uproot",
]
