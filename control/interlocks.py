"""Interlocks: conditions that refuse a write to a tag, whoever sends it.

An interlock names the tags it guards (exact paths or globs) and a ``block``
expression over tags and the variable ``value`` (the value being written).
Every write that goes through the command path (operators, schedules, rules,
rotations) is checked; a Bad input counts as "blocked", because an interlock
that cannot see its input must fail safe. PID loops write their outputs
directly, so each loop checks the interlocks guarding its output before every
write (:meth:`Interlocks.guarding`) and holds while one refuses: an interlock
always wins over every control writer of its tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tagdb.patterns import compile_pattern

from .expr import BadInputError, Expression


@dataclass(frozen=True)
class Interlock:
    """One configured interlock."""

    name: str
    tags: tuple[str, ...]
    block: Expression
    message: str = ""

    def applies_to(self, path: str) -> bool:
        """True when this interlock guards ``path``."""
        return any(compile_pattern(p)(path) for p in self.tags)


class Interlocks:
    """All interlocks of the site; ``check`` says why a write is refused (or None)."""

    def __init__(self, interlocks: Iterable[Interlock], tags: Any) -> None:
        self.items = tuple(interlocks)
        self.tags = tags

    def guarding(self, path: str | None) -> "Interlocks":
        """Only the interlocks that guard ``path`` (a loop checks these every cycle, cheaply)."""
        return Interlocks([lock for lock in self.items if path is not None and lock.applies_to(path)], self.tags)

    def check(self, path: str, value: Any) -> str | None:
        """The refusal reason for writing ``value`` to ``path``, or None when allowed."""
        for lock in self.items:
            if not lock.applies_to(path):
                continue
            snap = self.tags.snapshot([p for p in lock.block.paths if p in self.tags])
            try:
                blocked = bool(lock.block.evaluate(snap, {"value": value, "path": path}))
            except BadInputError as exc:
                return f"interlock {lock.name}: input {exc} is not usable, so the write is refused"
            except Exception as exc:  # noqa: BLE001 - a type mismatch in the expression
                return f"interlock {lock.name}: cannot evaluate ({type(exc).__name__}: {exc})"
            if blocked:
                return f"interlock {lock.name}: {lock.message or lock.block.source}"
        return None
