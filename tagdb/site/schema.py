"""A small schema language for site configuration.

Validation walks the located YAML tree and returns the cleaned value together
with *all* errors, each naming file, line and the dotted field path. Unknown keys
are errors. Packages declare their own config sections with these types
(``collectors/schema.py``, ``alarms/schema.py`` ...).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .envsubst import field_text, typed
from .errors import ConfigError, Loc
from .located import LDict, LList

Errors = list[ConfigError]
_MISSING = object()


class Schema:
    """Base class: ``check`` returns (clean value, errors)."""

    description = "value"

    def check(self, value: Any, field: str, loc: Loc) -> tuple[Any, Errors]:
        """Validate ``value`` found at ``field`` / ``loc``."""
        raise NotImplementedError  # abstract: every concrete schema overrides it


def _err(loc: Loc, field: str, msg: str) -> Errors:
    return [ConfigError(loc, field, msg)]


def _tname(value: Any) -> str:
    if isinstance(value, str):
        return "str"                # an EnvStr is a str to whoever wrote the file
    return {dict: "mapping", LDict: "mapping", list: "list", LList: "list"}.get(type(value), type(value).__name__)


@dataclass
class Str(Schema):
    """A string, optionally matching a regular expression or one of some choices."""

    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    min_len: int = 0
    hint: str = ""

    def check(self, value, field, loc):
        if not isinstance(value, str):
            return None, _err(loc, field, f"expected a string, got {_tname(value)} {value!r}")
        if len(value) < self.min_len:
            return None, _err(loc, field, "must not be empty")
        if self.choices is not None and value not in self.choices:
            return None, _err(loc, field, f"{value!r} is not one of {', '.join(self.choices)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            return None, _err(loc, field, f"{value!r} is not valid{': ' + self.hint if self.hint else ''}")
        return value, []


@dataclass
class Number(Schema):
    """An int or float within optional bounds (``integer=True`` refuses fractions)."""

    min: float | None = None
    max: float | None = None
    integer: bool = False
    exclusive_min: bool = False

    def check(self, value, field, loc):
        value = typed(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "an integer" if self.integer else "a number"
            return None, _err(loc, field, f"expected {kind}, got {_tname(value)} {value!r}")
        if self.integer and not isinstance(value, int):
            return None, _err(loc, field, f"expected an integer, got {value!r}")
        if self.min is not None and (value <= self.min if self.exclusive_min else value < self.min):
            op = ">" if self.exclusive_min else ">="
            return None, _err(loc, field, f"{value!r} must be {op} {self.min}")
        if self.max is not None and value > self.max:
            return None, _err(loc, field, f"{value!r} must be <= {self.max}")
        return value, []


def Int(min: float | None = None, max: float | None = None) -> Number:
    """An integer within optional bounds."""
    return Number(min=min, max=max, integer=True)


@dataclass
class Bool(Schema):
    """true or false (YAML booleans only: 'yes' as a string is refused)."""

    def check(self, value, field, loc):
        value = typed(value)
        if not isinstance(value, bool):
            return None, _err(loc, field, f"expected true or false, got {value!r}")
        return value, []


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass
class Duration(Schema):
    """Seconds as a number, or a string like '250ms', '5s', '10m', '2h', '1d'."""

    min: float = 0.0
    allow_zero: bool = True

    def check(self, value, field, loc):
        value = typed(value)
        if isinstance(value, bool):
            return None, _err(loc, field, f"expected a duration, got {value!r}")
        if isinstance(value, (int, float)):
            seconds = float(value)
        elif isinstance(value, str) and (m := _DURATION.match(value)):
            seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        else:
            return None, _err(loc, field, f"expected a duration such as 5s, 10m or 250ms, got {value!r}")
        if seconds < self.min or (not self.allow_zero and seconds == 0):
            return None, _err(loc, field, f"duration {value!r} must be more than {self.min} s")
        return seconds, []


@dataclass
class AnyValue(Schema):
    """Anything (used for values whose type depends on a sibling, checked later)."""

    def check(self, value, field, loc):
        return value, []


@dataclass
class Field:
    """A key of an Obj: its schema, whether required, and its default."""

    schema: Schema
    required: bool = False
    default: Any = None
    doc: str = ""


@dataclass
class Obj(Schema):
    """A mapping with known keys; unknown keys are errors.

    ``check_fn`` runs after the keys are valid and may add cross-field errors.
    """

    fields: Mapping[str, Field]
    check_fn: Callable[[dict, str, LDict], Errors] | None = None

    def check(self, value, field, loc):
        if not isinstance(value, dict):
            return None, _err(loc, field, f"expected a mapping, got {_tname(value)} {value!r}")
        errors: Errors = []
        out: dict = {}
        key_loc = value.loc_of if isinstance(value, LDict) else (lambda k: loc)
        for key in value:
            if key not in self.fields:
                known = ", ".join(sorted(self.fields))
                errors += _err(key_loc(key), _join(field, key),
                               f"unknown key{did_you_mean(key, self.fields)} (known keys: {known})")
        for name, spec in self.fields.items():
            sub = _join(field, name)
            if name not in value or value[name] is None:
                if spec.required:
                    errors += _err(loc, sub, "is required")
                out[name] = spec.default
                continue
            clean, errs = spec.schema.check(value[name], sub, key_loc(name))
            errors += errs
            out[name] = clean
        if not errors and self.check_fn is not None:
            errors += self.check_fn(out, field, value if isinstance(value, LDict) else None)
        return out, errors


@dataclass
class ListOf(Schema):
    """A list whose items all follow one schema."""

    item: Schema
    min_len: int = 0

    def check(self, value, field, loc):
        if not isinstance(value, list):
            return None, _err(loc, field, f"expected a list, got {_tname(value)} {value!r}")
        if len(value) < self.min_len:
            return None, _err(loc, field, f"needs at least {self.min_len} item(s)")
        errors: Errors = []
        out = []
        for i, item in enumerate(value):
            item_loc = value.loc_of(i) if isinstance(value, LList) else loc
            clean, errs = self.item.check(item, f"{field}[{i}]", item_loc)
            errors += errs
            out.append(clean)
        return out, errors


@dataclass
class MapOf(Schema):
    """A mapping from names (matching ``key_pattern``) to values of one schema."""

    value: Schema
    key_pattern: str = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
    key_hint: str = "letters, digits, '_', '-', '.'"

    def check(self, value, field, loc):
        if not isinstance(value, dict):
            return None, _err(loc, field, f"expected a mapping, got {_tname(value)} {value!r}")
        errors: Errors = []
        out = {}
        for key, item in value.items():
            key_loc = value.loc_of(key) if isinstance(value, LDict) else loc
            sub = _join(field, key)
            if not isinstance(key, str) or not re.fullmatch(self.key_pattern, key):
                errors += _err(key_loc, sub, f"invalid name {key!r} ({self.key_hint})")
                continue
            clean, errs = self.value.check(item, sub, key_loc)
            errors += errs
            out[key] = clean
        return out, errors


@dataclass
class OneOf(Schema):
    """The first alternative that validates without errors; else the first's errors."""

    options: tuple[Schema, ...]

    def check(self, value, field, loc):
        first: Errors | None = None
        for option in self.options:
            clean, errs = option.check(value, field, loc)
            if not errs:
                return clean, []
            first = first if first is not None else errs
        return None, first or _err(loc, field, "matches no alternative")


def did_you_mean(word: Any, choices) -> str:
    """``"; did you mean 'endpoint'?"`` for a near miss of one of ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.75)
    return f"; did you mean {close[0]!r}?" if close else ""


def _join(field: str, key: Any) -> str:
    key = field_text(key)       # a key from the environment shows as written, not as its value
    return f"{field}.{key}" if field else key


def validate(schema: Schema, value: Any, field: str, loc: Loc) -> tuple[Any, Errors]:
    """Validate ``value`` and return (clean value, every error)."""
    return schema.check(value, field, loc)
