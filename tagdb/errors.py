"""The typed exceptions raised by the live tag database (one small hierarchy)."""

from __future__ import annotations


class TagDbError(Exception):
    """Base class of every error the tag database raises."""


class UnknownTagError(TagDbError, KeyError):
    """One or more tag paths are not in the database.

    A ``KeyError`` too, so ``except KeyError`` around ``get`` keeps working.
    """

    def __init__(self, paths: list[str] | tuple[str, ...] | str) -> None:
        self.paths = [paths] if isinstance(paths, str) else list(paths)
        shown = ", ".join(repr(p) for p in self.paths[:5])
        more = f" (and {len(self.paths) - 5} more)" if len(self.paths) > 5 else ""
        super().__init__(f"unknown tag{'s' if len(self.paths) > 1 else ''}: {shown}{more}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


class DuplicateTagError(TagDbError, ValueError):
    """A tag path is added twice."""


class BadTagPathError(TagDbError, ValueError):
    """A tag path that patterns could not address (empty segment, wildcard character)."""


class TagTypeError(TagDbError, TypeError):
    """A value does not fit the tag's data type (e.g. a string for a float tag)."""


class PatternError(TagDbError, ValueError):
    """A subscription or match pattern is malformed."""
