"""Tag expressions for control rules, on top of the alarm engine's safe evaluator.

Control conditions name tags directly in braces (``{car-park/barrier-1/vehicle_present}
and not {car-park/barrier-1/open_cmd}``) instead of binding input names first.
Each ``{path}`` becomes a generated name and the text is handed to
:mod:`alarms.expr` (``ast`` whitelist, no ``eval``), so the site has exactly one
expression language and one evaluator. A Bad or missing input raises
:class:`BadInputError`: callers treat the condition as unknown and never act on it.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from alarms.errors import ExpressionError
from alarms.expr import Expression as _Expression
from alarms.expr import Unknown, parse
from tagdb.values import TagValue

_TAG_REF = re.compile(r"\{([^{}]*)\}")
_PREFIX = "_t"

BadInputError = Unknown
ExprError = ExpressionError


class Expression:
    """A checked expression over ``{tag}`` references and caller-supplied variables."""

    __slots__ = ("source", "paths", "variables", "_expr", "_names")

    def __init__(self, source: str, variables: tuple[str, ...] = ()) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExpressionError("empty expression")
        paths: list[str] = []

        def ref(m: re.Match) -> str:
            path = m.group(1).strip()
            if not path:
                raise ExpressionError(f"empty tag reference {{}} in {source!r}")
            if path not in paths:
                paths.append(path)
            return f"{_PREFIX}{paths.index(path)}"

        text = _TAG_REF.sub(ref, source)
        self._expr: _Expression = parse(text)
        self.source = source
        self.paths = tuple(paths)
        self.variables = tuple(variables)
        self._names = {f"{_PREFIX}{i}": p for i, p in enumerate(paths)}
        unknown = sorted(n for n in self._expr.names if n not in self._names and n not in variables)
        if unknown:
            hint = "tag paths go in braces, e.g. {tower-a/ahu-1/fan_status}"
            allowed = f"; variables here: {', '.join(variables)}" if variables else ""
            raise ExpressionError(f"unknown name(s) {', '.join(unknown)} in {source!r} ({hint}{allowed})")

    def evaluate(self, tags: Mapping[str, TagValue], variables: Mapping[str, Any] | None = None) -> Any:
        """The value given a snapshot; BadInputError when an input needed is Bad or missing."""
        values: dict[str, Any] = dict(variables or {})
        good: dict[str, bool] = {}
        for name, path in self._names.items():
            tv = tags.get(path)
            if tv is None:
                continue
            values[name] = tv.value
            good[name] = not tv.quality.is_bad and tv.value is not None
        return self._expr.evaluate(values, good)

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __str__(self) -> str:
        return self.source


def compile_expr(source: str, variables: tuple[str, ...] = ()) -> Expression:
    """Parse ``source`` (ExprError when malformed or using anything not allowed)."""
    return Expression(source, variables)
