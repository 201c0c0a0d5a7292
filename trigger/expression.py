"""The whitelisting AST compiler shared by menu cuts and mapping expressions (no eval, ever).

Each allowed node becomes a small closure taking a context (a FeatureFrame at
event level, a CollectionView inside ``n_<collection>(...)``) and returning a
numpy array or a scalar; every other node type raises a MenuError with its
position. Types are checked here, at compile time: ``and/or/not`` take
conditions (a bare feature or field counts as ``!= 0``, NaN as False),
comparisons and arithmetic take numbers.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from trigger.errors import MenuError, closest_names
from trigger.schema import COLLECTIONS
from trigger.segments import segment_count

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Compiler", "Fn", "parse_expression"]

#: Deepest accepted syntax tree (nesting of operators, calls and parentheses).
MAX_DEPTH = 64

Fn = Callable[[Any], Any]  # context (FeatureFrame or CollectionView) -> array or scalar

_FUNCS: dict[str, tuple[int, Callable[..., Any]]] = {
    "abs": (1, np.abs),
    "sqrt": (1, np.sqrt),
    "min": (2, np.minimum),
    "max": (2, np.maximum),
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
    ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_ARITH: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
}
_REFUSED: dict[type, str] = {
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "generator expressions are not allowed",
    ast.Subscript: "subscripts ([...]) are not allowed; use mu1_pt-style features or n_muons(...)",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.Starred: "starred arguments (*x) are not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed; use and/or",
    ast.List: "lists are not allowed", ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed", ast.Dict: "dicts are not allowed",
}


@dataclass(frozen=True)
class _Node:
    fn: Fn
    kind: str  # "bool" or "num"
    bare: bool = False  # a plain feature/field name, usable as a condition (!= 0)


def _number(x: Any) -> Any:
    """Arithmetic runs in float64: no int8 overflow, no bool 'addition is or'."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        return x.astype(np.float64)
    return x


def _truth(x: Any) -> Any:
    """``!= 0`` with NaN counting as False (``x == x`` is False only for NaN)."""
    return np.logical_and(np.not_equal(x, 0), np.equal(x, x))


class Compiler:
    """One compilation: walks the tree, collects names, builds closures.

    Args:
        text: The normalized expression (for carets in messages).
        registry: Valid event-level feature names.
        path: Trigger path name, for messages.
        where: What the expression is (e.g. ``"seed"``), for messages.
    """

    #: Callable functions: name -> (number of arguments, numpy ufunc). A subclass
    #: (the mapping compiler) may offer others.
    functions: ClassVar[dict[str, tuple[int, Callable[..., Any]]]] = _FUNCS
    #: Whether ``n_<collection>(...)``/``any_<collection>(...)`` are allowed.
    object_counts: ClassVar[bool] = True

    def __init__(self, text: str, registry: Iterable[str], path: str | None, where: str) -> None:
        self.text = text
        self.names = frozenset(registry)
        self.path = path
        self.where = where
        self.features: set[str] = set()
        self.models: set[str] = set()
        self.collections: set[str] = set()
        self.all_fields = {f.name for s in COLLECTIONS.values() for f in s}

    def error(self, message: str, node: ast.AST | int | None, suggestions: Iterable[str] = ()) -> MenuError:
        """A MenuError with a caret under ``node`` (an AST node or a 0-based column)."""
        if isinstance(node, ast.AST):
            # col_offset counts UTF-8 bytes; the caret needs characters.
            col = len(self.text.encode()[: getattr(node, "col_offset", 0)].decode(errors="ignore"))
        else:
            col = node
        return MenuError(f"{self.where}: {message}", path=self.path, expression=self.text,
                         position=col, suggestions=suggestions)

    def condition(self, node: ast.AST, depth: int, scope: str | None) -> Fn:
        """Compile ``node`` as a condition; a bare name means ``!= 0``."""
        got = self.visit(node, depth, scope)
        if got.kind == "bool":
            return got.fn
        if got.bare:
            return lambda ctx, f=got.fn: _truth(f(ctx))
        raise self.error("expected a condition (true/false), found a number; compare it, "
                         "e.g. `x > 0`", node)

    def number(self, node: ast.AST, depth: int, scope: str | None) -> Fn:
        """Compile ``node`` as a number (comparison and arithmetic operand)."""
        got = self.visit(node, depth, scope)
        if got.kind != "num":
            raise self.error("expected a number, found a condition; "
                             "comparisons and arithmetic take numbers", node)
        return got.fn

    def visit(self, node: ast.AST, depth: int, scope: str | None) -> _Node:
        """Compile any allowed node; ``scope`` is None at event level, else the collection."""
        if depth > MAX_DEPTH:
            raise self.error(f"expression nested deeper than {MAX_DEPTH} levels; split it into "
                             "several cuts (a list of cuts is ANDed)", node)
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node, scope)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.BoolOp):
            parts = [self.condition(v, d, scope) for v in node.values]
            op = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
            return _Node(lambda ctx: functools.reduce(op, [p(ctx) for p in parts]), "bool")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                inner = self.condition(node.operand, d, scope)
                return _Node(lambda ctx: np.logical_not(inner(ctx)), "bool")
            if isinstance(node.op, ast.USub):
                num = self.number(node.operand, d, scope)
                return _Node(lambda ctx: np.negative(_number(num(ctx))), "num")
            raise self.error("only the unary operators `-` and `not` are allowed", node)
        if isinstance(node, ast.BinOp):
            op = _ARITH.get(type(node.op))
            if op is None:
                raise self.error("operator not allowed; arithmetic allows + - * / "
                                 "(use and/or/not for logic)", node)
            left, right = self.number(node.left, d, scope), self.number(node.right, d, scope)
            return _Node(lambda ctx: op(_number(left(ctx)), _number(right(ctx))), "num")
        if isinstance(node, ast.Compare):
            return self.compare(node, d, scope)
        if isinstance(node, ast.Call):
            return self.call(node, d, scope)
        reason = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed in a cut expression")
        raise self.error(reason, node)

    def constant(self, node: ast.Constant) -> _Node:
        value = node.value
        if isinstance(value, bool):
            return _Node(lambda ctx: value, "bool")
        if isinstance(value, (int, float)):
            number = float(value) if isinstance(value, int) and abs(value) >= 2**63 else value
            return _Node(lambda ctx: number, "num")
        kind = {str: "string", bytes: "bytes"}.get(type(value), repr(value))
        raise self.error(f"{kind} literals are not allowed; only int/float numbers and True/False", node)

    def name(self, node: ast.Name, scope: str | None) -> _Node:
        name = node.id
        if scope is not None:
            fields = [f.name for f in COLLECTIONS[scope]]
            if name in fields:
                return _Node(lambda view: view.field(name), "num", bare=True)
            if name in self.names or name == "score":
                raise self.error(f"{name!r} is event-level and cannot be used inside n_{scope}(...)/"
                                 f"any_{scope}(...), which see the fields of {scope} only: {', '.join(fields)}", node)
            raise self.error(f"unknown field {name!r} of {scope}; fields are {', '.join(fields)}",
                             node, closest_names(name, fields))
        if name in self.names:
            self.features.add(name)
            return _Node(lambda frame: frame[name], "num", bare=True)
        if name == "score":
            raise self.error("`score` needs a model name: score.<model>", node)
        if name in self.all_fields:
            raise self.error(f"{name!r} is an object field; use it inside a count such as "
                             f"n_muons({name} > ...) or any_jets({name} > ...)", node)
        if name in self.functions or self._collection_of(name):
            raise self.error(f"{name!r} is a function; call it, e.g. {name}(...)", node)
        raise self.error(f"unknown name {name!r}", node, closest_names(name, [*self.names, "score"]))

    def attribute(self, node: ast.Attribute, scope: str | None) -> _Node:
        if not (isinstance(node.value, ast.Name) and node.value.id == "score"):
            raise self.error("attribute access is only allowed as score.<model>", node)
        if scope is not None:
            raise self.error(f"model scores are event-level and cannot be used inside "
                             f"n_{scope}(...)/any_{scope}(...)", node)
        model = node.attr
        self.models.add(model)
        return _Node(lambda frame: frame.score(model), "num")

    def compare(self, node: ast.Compare, depth: int, scope: str | None) -> _Node:
        for op, right in zip(node.ops, node.comparators):
            if type(op) not in _COMPARE:
                raise self.error("only the comparisons < <= > >= == != are allowed", right)
        operands = [self.number(x, depth, scope) for x in [node.left, *node.comparators]]
        ops = [_COMPARE[type(op)] for op in node.ops]

        def run(ctx: Any) -> Any:
            values = [f(ctx) for f in operands]  # each operand once, as in a Python chain
            return functools.reduce(np.logical_and,
                                    [op(values[i], values[i + 1]) for i, op in enumerate(ops)])

        return _Node(run, "bool")

    def _collection_of(self, name: str) -> tuple[str, str] | None:
        prefix, _, coll = name.partition("_")
        ok = self.object_counts and prefix in ("n", "any") and coll in COLLECTIONS
        return (prefix, coll) if ok else None

    def call(self, node: ast.Call, depth: int, scope: str | None) -> _Node:
        if not isinstance(node.func, ast.Name):
            counts = ", n_<collection>(...), any_<collection>(...)" if self.object_counts else ""
            raise self.error(f"only plain functions can be called: {', '.join(self.functions)}{counts}", node)
        name = node.func.id
        counts = self._collection_of(name)
        valid = [*self.functions]
        if self.object_counts:
            valid += [f"{p}_{c}" for p in ("n", "any") for c in COLLECTIONS]
        if name not in self.functions and counts is None:
            raise self.error(f"unknown function {name!r}; allowed: {', '.join(valid)}",
                             node, closest_names(name, valid))
        if node.keywords:
            raise self.error(f"{name}() takes no keyword arguments", node.keywords[0])
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.error(_REFUSED[ast.Starred], arg)
        if counts is None:
            n_args, ufunc = self.functions[name]
            if len(node.args) != n_args:
                raise self.error(f"{name}() takes {n_args} argument(s), got {len(node.args)}", node)
            args = [self.number(a, depth, scope) for a in node.args]
            return _Node(lambda ctx: ufunc(*[_number(a(ctx)) for a in args]), "num")
        prefix, coll = counts
        if scope is not None:
            raise self.error(f"{name}(...) cannot be nested inside n_{scope}(...)/any_{scope}(...)", node)
        if len(node.args) > 1:
            raise self.error(f"{name}() takes one predicate, got {len(node.args)} arguments; "
                             "combine conditions with and/or", node.args[1])
        self.collections.add(coll)
        pred = self.condition(node.args[0], depth, coll) if node.args else None

        def count(frame: Any) -> Any:
            view = frame.collection(coll)
            if pred is None:
                return view.counts
            mask = pred(view)
            if np.ndim(mask) == 0:  # a constant predicate
                mask = np.full(view.n_objects, bool(mask))
            return segment_count(mask, view.offsets)

        if prefix == "any":
            return _Node(lambda frame: count(frame) > 0, "bool")
        return _Node(count, "num")


#: Longest accepted expression, in characters.
MAX_LENGTH = 2_000


def parse_expression(text: str, *, path: str | None = None, where: str = "cut") -> tuple[str, ast.expr]:
    """Check and parse an expression without binding its names (shared with the mapping compiler).

    Refuses non-strings, empty or over-long text, comments, syntax errors and
    ``__dunder__`` names; binding names and checking node types is left to a
    :class:`~trigger.expression.Compiler` (see :func:`compile_expression`).

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
