"""Derived quantities in mappings, compiled by the menu's whitelisting compiler.

A mapping expression (``sqrt(px1*px1 + py1*py1)``, ``asinh(pz1 / hypot(px1, py1))``)
is parsed by :func:`trigger.menu.expr.parse_expression` and compiled by a
subclass of the menu :class:`~trigger.expression.Compiler`: the same
whitelist (names, numbers, arithmetic, comparisons, and/or/not; never ``eval``),
where names are the file's branches, the functions are the elementwise math
needed to derive kinematics, and there are no object counts or model scores.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trigger.errors import ConfigError, MenuError
from trigger.expression import Compiler, parse_expression

__all__ = ["FUNCTIONS", "MappingCompiler", "ParsedExpr", "parse_mapping_expr"]

#: Functions a mapping expression may call: name -> (arguments, numpy ufunc).
FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "abs": (1, np.abs), "sqrt": (1, np.sqrt), "min": (2, np.minimum), "max": (2, np.maximum),
    "hypot": (2, np.hypot), "atan2": (2, np.arctan2), "asinh": (1, np.arcsinh),
    "sinh": (1, np.sinh), "cosh": (1, np.cosh), "sin": (1, np.sin), "cos": (1, np.cos),
    "exp": (1, np.exp), "log": (1, np.log),
}


class MappingCompiler(Compiler):
    """The menu compiler with branch names, kinematics functions, no counts or scores."""

    functions: ClassVar[dict[str, tuple[int, Callable[..., Any]]]] = FUNCTIONS
    object_counts: ClassVar[bool] = False

    def attribute(self, node: ast.Attribute, scope: str | None) -> Any:
        """Refuse ``a.b``: branches are plain names (model scores do not exist here)."""
        raise self.error("attribute access is not allowed in a mapping; branches are plain names", node)


@dataclass(frozen=True)
class ParsedExpr:
    """A checked mapping expression, not yet bound to a file.

    Attributes:
        text: The normalized expression.
        where: What it computes, for messages (``mapping cms_nanoaod: muons.pt``).
        names: Branches it reads.
        bare: The branch name when the expression is just one name (its values
            are then used as they are: integers keep their type).
    """

    text: str
    where: str
    names: frozenset[str]
    bare: str | None
    _body: ast.expr

    def bind(self, branches: Iterable[str], *, condition: bool = False) -> Callable[[Mapping[str, np.ndarray]], Any]:
        """Compile against the names a file has.

        Args:
            branches: Valid names (the file's branches, or mapped field names).
            condition: Compile as a condition (True/False per element) instead of a number.

        Returns:
            A function of ``{name: array}`` returning an array (or a scalar for a
            constant expression).

        Raises:
            ConfigError: If the expression does not type-check (a condition where a
                number is needed, or the reverse) or names a missing branch.
        """
        compiler = MappingCompiler(self.text, branches, None, self.where)
        try:
            if condition:
                return compiler.condition(self._body, 0, None)
            return compiler.number(self._body, 0, None)
        except MenuError as err:
            raise ConfigError(str(err)) from None


def parse_mapping_expr(text: str, *, where: str, condition: bool = False) -> ParsedExpr:
    """Parse a mapping expression and list the branches it reads.

    Args:
        text: The expression.
        where: What it computes, for messages.
        condition: It must be a condition (``select``) rather than a number.

    Returns:
        The parsed expression.

    Raises:
        ConfigError: If it is not an allowed expression (message with a caret).
    """
    try:
        source, body = parse_expression(text, where=where)
    except MenuError as err:
        raise ConfigError(str(err)) from None
    called = {id(n.func) for n in ast.walk(body) if isinstance(n, ast.Call)}
    names = frozenset(n.id for n in ast.walk(body) if isinstance(n, ast.Name) and id(n) not in called)
    bare = body.id if isinstance(body, ast.Name) else None
    parsed = ParsedExpr(source, where, names, bare, body)
    parsed.bind(names, condition=condition)  # type-check now (names as given), so YAML errors show when loading
    return parsed
