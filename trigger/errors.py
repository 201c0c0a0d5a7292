"""The exception hierarchy of ``trigger``.

Every error a user can cause says what failed, where (file, batch, column, row,
menu path, expression position), what was expected, what was found and, where
it can, how to fix it. Input checks never use ``assert``.

::

    TriggerError
    ├── ConfigError          bad options or configuration files
    ├── MenuError            a trigger menu that cannot be compiled
    ├── InputError           an input file that cannot be read (quarantined)
    │   └── SchemaError      a batch that violates the event model (quarantined)
    ├── ModelError           a model that cannot be loaded or fed
    └── MissingDependencyError  an optional package is not installed
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "InputError",
    "MenuError",
    "MissingDependencyError",
    "ModelError",
    "SchemaError",
    "TriggerError",
    "closest_names",
    "did_you_mean",
]


class TriggerError(Exception):
    """Base class of every error ``trigger`` raises on purpose."""


class ConfigError(TriggerError):
    """Options or a configuration file are invalid."""


class MenuError(TriggerError):
    """A trigger menu cannot be compiled.

    Args:
        message: What is wrong and how to fix it.
        path: The menu path (trigger path name) the error is in, if any.
        expression: The offending expression text, if any.
        position: 0-based column of the offending token in ``expression``.
        suggestions: Closest valid names, best first.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        expression: str | None = None,
        position: int | None = None,
        suggestions: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.expression = expression
        self.position = position
        self.suggestions = tuple(suggestions)
        parts = []
        if path is not None:
            parts.append(f"in path {path!r}: ")
        parts.append(message)
        if self.suggestions:
            parts.append(f" (did you mean {', '.join(repr(s) for s in self.suggestions)}?)")
        if expression is not None:
            parts.append(f"\n    {expression}")
            if position is not None:
                parts.append(f"\n    {' ' * position}^")
        super().__init__("".join(parts))


class InputError(TriggerError):
    """An input cannot be read or used; the offending data is quarantined.

    Args:
        message: What failed and what was expected.
        source: File path (or source name) of the input.
        batch: Batch identifier within the source, if known.
        column: Column or branch name, if the error concerns one.
        row: Row index within the batch, if the error concerns one row.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        batch: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ) -> None:
        self.reason = message
        self.source = source
        self.batch = batch
        self.column = column
        self.row = row
        where = ", ".join(
            f"{k} {v}"
            for k, v in (("file", source), ("batch", batch), ("column", column), ("row", row))
            if v is not None
        )
        super().__init__(f"{where}: {message}" if where else message)


class SchemaError(InputError):
    """A batch does not follow the event model (see :mod:`trigger.schema`)."""


class ModelError(TriggerError):
    """A model cannot be loaded, is not the pinned one, or cannot be fed."""


class MissingDependencyError(TriggerError, ImportError):
    """An optional dependency is needed; the message gives the ``pip install`` line."""


def closest_names(name: str, candidates: Iterable[str], *, n: int = 3) -> list[str]:
    """Return up to ``n`` names from ``candidates`` that look most like ``name``.

    Args:
        name: The unknown name.
        candidates: Valid names.
        n: How many to return at most.

    Returns:
        The closest names, best first (possibly empty).
    """
    pool = sorted(set(candidates))
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.5)
    if not found:
        lowered = name.lower()
        found = [c for c in pool if lowered in c.lower() or c.lower() in lowered][:n]
    return found


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Format a ``did you mean`` hint (empty string when nothing is close)."""
    found = closest_names(name, candidates)
    return f"; did you mean {', '.join(repr(f) for f in found)}?" if found else ""
