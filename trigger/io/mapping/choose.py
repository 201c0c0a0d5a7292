"""Choosing a shipped mapping for a file automatically, and saying why (or why none fits)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from trigger.errors import InputError, SchemaError
from trigger.io.mapping.bind import Problem, mapping_problems
from trigger.io.mapping.columns import BranchType, types_from_arrow
from trigger.io.mapping.load import shipped_mappings
from trigger.io.mapping.model import EventMapping
from trigger.schema import check_structure

if TYPE_CHECKING:
    from trigger.io.sources import Source

__all__ = ["TypesFor", "choose_for_arrow", "choose_mapping", "fit_report"]

#: Gives the branch types a mapping would read (ROOT: of the mapping's tree);
#: raises InputError when the file has no such tree.
TypesFor = Callable[[EventMapping], Mapping[str, BranchType]]


def fit_report(types_for: TypesFor, *, candidates: list[EventMapping] | None = None) -> list[tuple[EventMapping, list[Problem]]]:
    """For each candidate (default: the shipped mappings), the reasons it does not fit (empty: fits)."""
    out = []
    for mapping in shipped_mappings() if candidates is None else candidates:
        try:
            problems = mapping_problems(mapping, types_for(mapping))
        except InputError as err:
            problems = [Problem(err.column or "", err.reason)]
        out.append((mapping, problems))
    return out


def choose_mapping(types_for: TypesFor, *, source: str, candidates: list[EventMapping] | None = None) -> tuple[EventMapping, str]:
    """The first candidate that fits, with a note saying it was chosen automatically.

    Raises:
        InputError: If none fits, saying for each candidate which branches it misses.
    """
    report = fit_report(types_for, candidates=candidates)
    fitting = [m for m, problems in report if not problems]
    if fitting:
        others = f" (also fits: {', '.join(m.name for m in fitting[1:])})" if len(fitting) > 1 else ""
        return fitting[0], (f"mapping {fitting[0].name} chosen automatically: the file has every branch it reads"
                            f"{others}; pass --mapping to choose another")
    why = "; ".join(f"{m.name}: {problems[0].message}" + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
                    for m, problems in report)
    first = report[0][1][0].column if report else None
    raise InputError(f"no shipped mapping fits this file ({why}); write one (see `trigger inspect FILE`) "
                     "and pass it with --mapping", source=source, column=first or None)


def choose_for_arrow(source: Source) -> tuple[EventMapping, str] | None:
    """A shipped mapping for a Parquet/IPC file that does not follow the event model.

    Returns:
        ``(mapping, note)``, or None when the file follows the event model, its
        schema cannot be read (reading it later reports that), or no mapping fits
        (the engine then refuses its batches naming the missing columns).
    """
    try:
        schema = source.schema()
    except InputError:
        return None
    try:
        check_structure(schema)
        return None
    except SchemaError:
        pass
    types = types_from_arrow(schema)
    for mapping, problems in fit_report(lambda m: types):
        if not problems:
            return mapping, (f"mapping {mapping.name} chosen automatically: the file does not follow the event "
                             "model and has every column this mapping reads; pass --mapping to choose another")
    return None
