"""Field validators for REST bodies and CSV rows.

Each validator turns a raw JSON/CSV value into the Python value stored in the
database or raises ``ValueError`` with a message for that field; callers collect
every field's message so one response names all bad fields at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable


@dataclass(frozen=True)
class F:
    """A writable field: a converter, whether required on create, and its default."""

    convert: Callable[[Any], Any]
    required: bool = False
    default: Any = None
    kind: str = "string"           # OpenAPI type hint
    doc: str = ""


def text(max_len: int = 200, min_len: int = 0, pattern: str | None = None, choices: tuple[str, ...] | None = None):
    """A string with length bounds, optional regex and choices."""
    def conv(v: Any) -> str:
        if not isinstance(v, str):
            raise ValueError(f"expected a string, got {type(v).__name__}")
        v = v.strip()
        if len(v) < min_len:
            raise ValueError("must not be empty" if min_len == 1 else f"needs at least {min_len} characters")
        if len(v) > max_len:
            raise ValueError(f"at most {max_len} characters")
        if choices is not None and v not in choices:
            raise ValueError(f"{v!r} is not one of {', '.join(choices)}")
        if pattern is not None and not re.fullmatch(pattern, v):
            raise ValueError(f"{v!r} has an invalid format")
        return v
    return conv


def integer(lo: int | None = None, hi: int | None = None):
    """An integer (strings of digits accepted, e.g. from CSV) within bounds."""
    def conv(v: Any) -> int:
        if isinstance(v, bool):
            raise ValueError("expected an integer")
        if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
            v = int(v)
        if not isinstance(v, int):
            raise ValueError(f"expected an integer, got {v!r}")
        if lo is not None and v < lo:
            raise ValueError(f"must be >= {lo}")
        if hi is not None and v > hi:
            raise ValueError(f"must be <= {hi}")
        return v
    return conv


def decimal(lo: Decimal | int | None = None, hi: Decimal | int | None = None, places: int = 2,
            exclusive_lo: bool = False):
    """An exact decimal (JSON string or number) with at most ``places`` decimals."""
    def conv(v: Any) -> Decimal:
        if isinstance(v, bool) or not isinstance(v, (str, int, float, Decimal)):
            raise ValueError(f"expected a decimal number, got {v!r}")
        try:
            d = Decimal(str(v).strip())
        except InvalidOperation:
            raise ValueError(f"{v!r} is not a number") from None
        if not d.is_finite():
            raise ValueError("must be a finite number")
        if -d.as_tuple().exponent > places:
            raise ValueError(f"at most {places} decimal places")
        if lo is not None and (d <= lo if exclusive_lo else d < lo):
            raise ValueError(f"must be {'>' if exclusive_lo else '>='} {lo}")
        if hi is not None and d > hi:
            raise ValueError(f"must be <= {hi}")
        return d.quantize(Decimal(1).scaleb(-places))
    return conv


def day(v: Any) -> date:
    """An ISO date (YYYY-MM-DD)."""
    if isinstance(v, date) and not isinstance(v, datetime):
        return v
    if not isinstance(v, str):
        raise ValueError(f"expected a date YYYY-MM-DD, got {v!r}")
    try:
        return date.fromisoformat(v.strip())
    except ValueError:
        raise ValueError(f"{v!r} is not a date YYYY-MM-DD") from None


def clock_time(v: Any) -> time:
    """A time of day HH:MM[:SS]."""
    if isinstance(v, time):
        return v
    if not isinstance(v, str):
        raise ValueError(f"expected a time HH:MM, got {v!r}")
    try:
        return time.fromisoformat(v.strip())
    except ValueError:
        raise ValueError(f"{v!r} is not a time HH:MM") from None


def timestamp(v: Any) -> datetime:
    """An ISO 8601 timestamp with a UTC offset."""
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{v!r} is not an ISO 8601 timestamp") from None
    else:
        raise ValueError(f"expected an ISO 8601 timestamp, got {v!r}")
    if dt.tzinfo is None:
        raise ValueError("needs a UTC offset (e.g. 2026-11-28T08:00:00+08:00)")
    return dt


def boolean(v: Any) -> bool:
    """true/false (CSV: true/false/1/0/yes/no)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
        return v.strip().lower() in ("true", "1", "yes")
    raise ValueError(f"expected true or false, got {v!r}")


def ref(v: Any) -> int:
    """The id of another record."""
    return integer(lo=1)(v)


def optional(conv: Callable[[Any], Any]):
    """``conv`` but None/empty string allowed (stored as None)."""
    def wrapped(v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return conv(v)
    return wrapped


def string_list(choices: tuple[str, ...] | None = None, max_items: int = 50):
    """A list of strings (CSV: separated by ';'), each optionally from ``choices``."""
    def conv(v: Any) -> list[str]:
        if isinstance(v, str):
            v = [s.strip() for s in v.split(";") if s.strip()]
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise ValueError("expected a list of strings")
        if len(v) > max_items:
            raise ValueError(f"at most {max_items} items")
        bad = [s for s in v if choices is not None and s not in choices]
        if bad:
            raise ValueError(f"unknown value(s) {', '.join(map(repr, bad))} (allowed: {', '.join(choices)})")
        return sorted(set(v))
    return conv


def documents(v: Any) -> list[dict]:
    """Document references: a list of {"title", "uri"}."""
    if not isinstance(v, list):
        raise ValueError("expected a list of {title, uri}")
    out = []
    for i, d in enumerate(v):
        if not isinstance(d, dict) or not isinstance(d.get("title"), str) or not isinstance(d.get("uri"), str) \
                or set(d) - {"title", "uri"}:
            raise ValueError(f"item {i}: expected {{title, uri}} strings")
        out.append({"title": d["title"], "uri": d["uri"]})
    return out


def criteria(v: Any) -> dict:
    """Per-criterion review scores: name → number 0..100."""
    if not isinstance(v, dict):
        raise ValueError("expected a mapping of criterion to score")
    out = {}
    for k, s in v.items():
        out[str(k)] = str(decimal(0, 100)(s))
    return out
