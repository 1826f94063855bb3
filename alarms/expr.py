"""A safe evaluator for alarm and suppression expressions.

Expressions are parsed with :mod:`ast` and only a whitelist of node types is
accepted: names bound to tag values, numeric/string/bool literals, arithmetic,
comparisons (chained too), ``and``/``or``/``not``, conditional expressions and
calls to a few pure functions (``abs``, ``min``, ``max``, ``round``, ``good``,
``bad``). Nothing reaches Python's ``eval``: the tree is walked by
:class:`Expression` itself, so attribute access, subscripts, lambdas and
comprehensions cannot appear, and exponent sizes are bounded.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any, Callable, Mapping

from .errors import ExpressionError

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_MAX_EXPONENT = 64
_MAX_NODES = 200


class Unknown(Exception):
    """Raised inside evaluation when an input has no usable value (Bad or missing)."""


_FUNCS: dict[str, Callable[..., Any]] = {
    "abs": abs, "min": min, "max": max, "round": round,
}
#: Names callable in expressions; ``good``/``bad`` take an input *name*.
FUNCTIONS = frozenset(_FUNCS) | {"good", "bad"}
CONSTANTS = {"true": True, "false": False, "True": True, "False": False, "pi": math.pi}


class Expression:
    """A parsed, validated expression; :meth:`evaluate` computes it from named inputs."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            tree = ast.parse(source.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(f"syntax error in {source!r}: {exc.msg}") from None
        names: set[str] = set()
        count = 0
        for node in ast.walk(tree):
            count += 1
            _check_node(node, source)
            if isinstance(node, ast.Name) and node.id not in CONSTANTS and node.id not in FUNCTIONS:
                names.add(node.id)
            if isinstance(node, ast.Call) and node.func.id in ("good", "bad"):
                if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
                    raise ExpressionError(f"{node.func.id}() takes one input name in {source!r}")
        if count > _MAX_NODES:
            raise ExpressionError(f"expression too long ({count} nodes, at most {_MAX_NODES})")
        self._tree = tree.body
        #: Input names the expression reads (each must be bound to a tag).
        self.names = frozenset(names)

    def evaluate(self, values: Mapping[str, Any], good: Mapping[str, bool] | None = None) -> Any:
        """Compute the expression; raises :class:`Unknown` when a needed input is not good."""
        return _Eval(values, good or {}).visit(self._tree)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


def _check_node(node: ast.AST, source: str) -> None:
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Compare,
               ast.IfExp, ast.Call, ast.Name, ast.Load, ast.Constant)
    if isinstance(node, (ast.operator, ast.unaryop, ast.cmpop)):
        if type(node) not in _BINOPS and type(node) not in _UNARY and type(node) not in _COMPARE:
            raise ExpressionError(f"operator {type(node).__name__} is not allowed in {source!r}")
        return
    if not isinstance(node, allowed):
        raise ExpressionError(f"{type(node).__name__} is not allowed in alarm expressions ({source!r})")
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
        raise ExpressionError(f"literal {node.value!r} is not allowed in {source!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise ExpressionError(f"only {', '.join(sorted(FUNCTIONS))} may be called in {source!r}")
        if node.keywords:
            raise ExpressionError(f"keyword arguments are not allowed in {source!r}")


class _Eval:
    def __init__(self, values: Mapping[str, Any], good: Mapping[str, bool]) -> None:
        self.values = values
        self.good = good

    def visit(self, node: ast.AST) -> Any:
        """The value of one (already whitelisted) node."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id not in self.values or not self.good.get(node.id, True):
                raise Unknown(node.id)
            return self.values[node.id]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                result: Any = True
                for v in node.values:
                    result = self.visit(v)
                    if not result:
                        return result
                return result
            result = False
            for v in node.values:
                result = self.visit(v)
                if result:
                    return result
            return result
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self.visit(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = self.visit(node.left), self.visit(node.right)
            if not (_is_num(left) and _is_num(right)):
                # Arithmetic is for numbers only: "x" * 10**9 from a tag value must not exhaust memory.
                raise Unknown(f"arithmetic on {type(left).__name__} and {type(right).__name__}")
            if isinstance(node.op, ast.Pow) and isinstance(right, (int, float)) and abs(right) > _MAX_EXPONENT:
                raise ExpressionError(f"exponent {right} too large")
            try:
                return _BINOPS[type(node.op)](left, right)
            except ZeroDivisionError:
                raise Unknown("division by zero") from None
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            for op, comp in zip(node.ops, node.comparators):
                right = self.visit(comp)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)
        if isinstance(node, ast.Call):
            name = node.func.id
            if name in ("good", "bad"):
                arg = node.args[0].id
                ok = arg in self.values and self.good.get(arg, True)
                return ok if name == "good" else not ok
            return _FUNCS[name](*(self.visit(a) for a in node.args))
        raise ExpressionError(f"unsupported node {type(node).__name__}")  # _check_node prevents this


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) or (hasattr(v, "dtype") and getattr(v.dtype, "kind", "") in "biuf")


def parse(source: str) -> Expression:
    """Parse and validate ``source`` (ExpressionError when not allowed)."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("empty expression")
    return Expression(source)
