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

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trigger.errors import MenuError
from trigger.menu.compiler import MAX_DEPTH, Compiler, Fn

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "CompiledExpr", "compile_expression", "parse_expression"]

#: Longest accepted expression, in characters.
MAX_LENGTH = 2_000


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


def parse_expression(text: str, *, path: str | None = None, where: str = "cut") -> tuple[str, ast.expr]:
    """Check and parse an expression without binding its names (shared with the mapping compiler).

    Refuses non-strings, empty or over-long text, comments, syntax errors and
    ``__dunder__`` names; binding names and checking node types is left to a
    :class:`~trigger.menu.compiler.Compiler` (see :func:`compile_expression`).

    Args:
        text: The expression.
        path: Trigger path name, for messages.
        where: What the expression is, for messages.

    Returns:
        The normalized text (whitespace folded, as shown under carets) and the
        expression's syntax tree body.

    Raises:
        MenuError: If the text cannot be an allowed expression.
    """
    if not isinstance(text, str):
        raise MenuError(f"{where}: expected an expression string, found {type(text).__name__} "
                        f"{text!r}; quote it in YAML", path=path)
    # Newlines from YAML block scalars become spaces so that one caret line fits.
    source = " ".join(text.split())
    compiler = Compiler(source, (), path, where)  # names are bound later; here only for messages
    if not source:
        raise compiler.error("empty expression; omit the key instead", None)
    if len(source) > MAX_LENGTH:
        raise compiler.error(f"expression is {len(source)} characters long, the limit is "
                             f"{MAX_LENGTH}; split it into several cuts (a list of cuts is ANDed)", None)
    if "#" in source:  # newline folding would turn a comment into a silently dropped cut
        raise compiler.error("comments are not allowed inside expressions; use YAML comments",
                             source.index("#"))
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if not exc.offset:  # Python reports offset 0 when the text ends too early
            raise compiler.error(f"syntax error: {exc.msg}: the expression ends too early",
                                 len(source)) from None
        raise compiler.error(f"syntax error: {exc.msg}", min(exc.offset - 1, len(source))) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise compiler.error(f"expression cannot be parsed (too deep, limit {MAX_DEPTH} levels, "
                             f"or invalid characters): {exc}", None) from None
    dunders = [n for n in ast.walk(tree)
               if (isinstance(n, ast.Name) and n.id.startswith("__"))
               or (isinstance(n, ast.Attribute) and n.attr.startswith("__"))]
    if dunders:
        first = min(dunders, key=lambda n: (n.col_offset, getattr(n, "end_col_offset", 0)))
        bad = first.id if isinstance(first, ast.Name) else first.attr
        raise compiler.error(f"{bad!r}: names starting with '__' are not allowed "
                             "(expressions cannot reach Python internals)", first)
    return source, tree.body


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
