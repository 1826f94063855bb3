"""Tag path patterns: globs over '/'-separated paths and prefixes ending in '/'.

``*`` matches within one path segment, ``?`` one character of a segment, ``**``
any number of whole segments (also none; a trailing ``/**`` at least one, so
``tower-a/**`` is what is below tower-a), and a pattern ending in ``/`` is a
prefix (``tower-a/`` is everything under tower-a). A pattern with none of these
is an exact path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable

from .errors import PatternError

_WILD = set("*?")


def is_wildcard(pattern: str) -> bool:
    """True when ``pattern`` is a glob or a prefix rather than one exact path."""
    return pattern.endswith("/") or any(c in _WILD for c in pattern)


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A predicate ``path -> bool`` for ``pattern`` (PatternError when malformed)."""
    if not isinstance(pattern, str) or not pattern:
        raise PatternError(f"empty tag pattern {pattern!r}")
    if pattern.endswith("/") and not any(c in _WILD for c in pattern):
        prefix = pattern
        return lambda path: path.startswith(prefix)
    if not any(c in _WILD for c in pattern):
        exact = pattern
        return lambda path: path == exact
    regex = re.compile(_glob_to_regex(pattern), re.DOTALL)
    return lambda path: regex.fullmatch(path) is not None


def _glob_to_regex(pattern: str) -> str:
    prefix = pattern.endswith("/")
    segments = pattern.rstrip("/").split("/") if prefix else pattern.split("/")
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg == "**":
            # Zero or more whole segments, each followed by '/' unless it is the tail.
            out.append("(?:.*)" if last else "(?:[^/]+/)*")
            continue
        if "**" in seg:
            raise PatternError(f"'**' must be a whole path segment in {pattern!r}")
        part = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in seg)
        out.append(part + ("" if last else "/"))
    regex = "".join(out)
    if prefix:
        regex += "/.*"
    return regex
