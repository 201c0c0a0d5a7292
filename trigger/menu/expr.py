"""A whitelisted, vectorized compiler for cut expressions (never ``eval``).

A cut such as ``n_muons(pt > 20 and abs(eta) < 2.4) >= 2 and 60 < dimuon_mass < 120``
is parsed with :func:`ast.parse` and walked with a whitelist into a tree of small
closures over numpy arrays; anything not listed below is refused with a
:class:`~trigger.errors.MenuError` pointing at the offending column.

Allowed at event level: registered feature names, ``score.<model>``, int/float
literals, ``True``/``False``, ``and or not``, comparisons (chains too),
``+ - * /``, unary ``-``, ``abs min max sqrt`` (elementwise), and the object
counts ``n_<collection>(predicate)`` / ``any_<collection>(predicate)`` whose
predicate uses the fields of that collection (see :data:`trigger.schema.COLLECTIONS`).

Semantics: a bare feature or field used as a condition means ``!= 0`` (so
``dimuon_os`` reads as "opposite sign"); NaN counts as False there and in every
comparison, so a score NaN (model not run) never passes a threshold. Arithmetic
is done in float64; divide-by-zero and invalid-value warnings are silenced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trigger.expression import MAX_DEPTH, MAX_LENGTH, Compiler, Fn, parse_expression

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "CompiledExpr", "compile_expression", "parse_expression"]


@dataclass(frozen=True)
class CompiledExpr:
    """A compiled condition; call it with a FeatureFrame to get a bool per event.

    Attributes:
        source: The expression as compiled (whitespace normalized).
        features: Registered feature names it reads.
        models: Model names it reads through ``score.<model>``.
        collections: Collections it counts objects of.
    """

    source: str
    features: frozenset[str]
    models: frozenset[str]
    collections: frozenset[str]
    _fn: Fn = field(repr=False, compare=False)

    def __call__(self, frame: Any) -> np.ndarray:
        """Evaluate on every event of ``frame``; returns a fresh bool array (n_events,)."""
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = self._fn(frame)
        if np.ndim(out) == 0:  # a constant condition such as ``True``
            return np.full(frame.n_events, bool(out))
        return np.array(out, dtype=bool)


def _features_default() -> Iterable[str]:
    from trigger.features.registry import (
        FEATURES,  # lazy: the registry imports heavy modules
    )

    return FEATURES.keys()


def compile_expression(
    text: str,
    *,
    registry: Mapping[str, Any] | Iterable[str] | None = None,
    path: str | None = None,
    where: str = "cut",
) -> CompiledExpr:
    """Compile a cut expression into a vectorized condition.

    Args:
        text: The expression, e.g. ``"ht > 500 or score.axo > 0.8"``.
        registry: Valid feature names (a mapping's keys are used); defaults to
            :data:`trigger.features.registry.FEATURES`, looked up now.
        path: Trigger path name, for messages.
        where: What the expression is (``"cut"``, ``"seed"``, ``"menu x.yaml, cut 2"``), for messages.

    Returns:
        The compiled condition, with the features and models it reads.

    Raises:
        MenuError: If the text is not an allowed expression; the message names the
            path, shows the expression with a caret under the offending token and,
            for unknown names, the closest valid ones.
    """
    source, body = parse_expression(text, path=path, where=where)
    names = _features_default() if registry is None else registry
    compiler = Compiler(source, names, path, where)
    fn = compiler.condition(body, 0, None)
    return CompiledExpr(source, frozenset(compiler.features), frozenset(compiler.models),
                        frozenset(compiler.collections), fn)
