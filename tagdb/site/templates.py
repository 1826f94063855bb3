"""Equipment templates (like Ignition UDTs): ``{param}`` substitution and instantiation.

Strings in a template's tags and device may name parameters as
``{param}`` or ``{param:format}`` (``{unit:02d}``); ``{{`` and ``}}`` are literal
braces. A string that is exactly one ``{param}`` takes the parameter's value with
its type, so ``unit_id: "{unit}"`` becomes the integer. Besides the declared
parameters every template may use ``{id}``, ``{name}``, ``{building}`` and ``{area}``
of the equipment it is instantiated for. Alarm rules are not substituted: their
strings belong to the alarm engine (which knows the equipment of every rule).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from .errors import ConfigError, Loc
from .located import LDict, LList, make_ldict, make_llist
from .schema import Errors, _join

BUILTINS = ("id", "name", "building", "area")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)(?::([^{}]*))?\}")


class SubstitutionError(ValueError):
    """A placeholder names an unknown parameter or has a bad format."""


def placeholders(text: str) -> list[str]:
    """Parameter names used in ``text``."""
    return [m.group(1) for m in _PLACEHOLDER.finditer(text) if m.group(1)]


def substitute_str(text: str, values: dict[str, Any]) -> Any:
    """Fill the placeholders of ``text``; a lone ``{param}`` keeps the value's type."""
    whole = _PLACEHOLDER.fullmatch(text)
    if whole and whole.group(1) and not whole.group(2):
        if whole.group(1) not in values:
            raise SubstitutionError(f"unknown parameter {{{whole.group(1)}}}")
        return values[whole.group(1)]

    def repl(m: re.Match) -> str:
        if not m.group(1):
            return m.group(0)[0]
        if m.group(1) not in values:
            raise SubstitutionError(f"unknown parameter {{{m.group(1)}}}")
        try:
            return format(values[m.group(1)], m.group(2) or "")
        except (ValueError, TypeError) as exc:
            raise SubstitutionError(f"cannot format {m.group(0)} with {values[m.group(1)]!r}: {exc}") from exc
    return _PLACEHOLDER.sub(repl, text)


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Substitute in every string of a nested value, keeping LDict/LList locations."""
    if isinstance(value, str):
        return substitute_str(value, values)
    if isinstance(value, LDict):
        return make_ldict({k: substitute(v, values) for k, v in value.items()}, value.loc, value.key_locs)
    if isinstance(value, LList):
        return make_llist([substitute(v, values) for v in value], value.loc, value.item_locs)
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    if isinstance(value, tuple):
        return tuple(substitute(v, values) for v in value)
    return value


def walk_strings(value: Any, field: str, loc: Loc) -> Iterator[tuple[str, str, Loc]]:
    """Every string in a located value (outside ``alarms``) with its dotted field and location."""
    if isinstance(value, str):
        yield value, field, loc
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "alarms":
                continue                            # alarm strings are the alarm engine's, not substituted
            yield from walk_strings(v, _join(field, k), value.loc_of(k) if isinstance(value, LDict) else loc)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk_strings(v, f"{field}[{i}]", value.loc_of(i) if isinstance(value, LList) else loc)


def check_placeholders(raw_template: Any, field: str, loc: Loc, params: set[str]) -> Errors:
    """Errors for ``{x}`` naming neither a declared parameter nor a built-in one."""
    known = set(params) | set(BUILTINS)
    errors: Errors = []
    if not isinstance(raw_template, dict):
        return errors
    praw = raw_template.get("parameters")
    for name in sorted(set(params) & set(BUILTINS)):
        ploc = praw.loc_of(name) if isinstance(praw, LDict) else loc
        errors.append(ConfigError(ploc, _join(field, f"parameters.{name}"),
                                  f"{{{name}}} is built in (the instance's {name}); choose another parameter name"))
    for key in ("tags", "device"):
        if key not in raw_template:
            continue
        key_loc = raw_template.loc_of(key) if isinstance(raw_template, LDict) else loc
        for text, sub, sloc in walk_strings(raw_template[key], _join(field, key), key_loc):
            for name in placeholders(text):
                if name not in known:
                    errors.append(ConfigError(sloc, sub, f"unknown parameter {{{name}}} (template parameters: "
                                              f"{', '.join(sorted(params)) or 'none'})"))
    return errors


def expand_count(raw: LDict, clean: dict, field: str) -> tuple[list[tuple[dict, LDict]], Errors]:
    """An equipment entry with ``count: N`` becomes N entries with ``{n}`` = start..start+N-1."""
    if clean.get("count") is None:
        return [(clean, raw)], []
    if "n" not in placeholders(clean["id"]):
        return [], [ConfigError(raw.loc_of("id"), f"{field}.id", "an entry with count needs {n} in its id "
                                "(e.g. tower-a/meter-{n:03d}) to give each instance its own id")]
    out, errors = [], []
    for n in range(clean["start"], clean["start"] + clean["count"]):
        values = {"n": n}
        try:
            item = dict(clean)
            for key in ("id", "name", "device", "parameters", "overrides"):
                item[key] = substitute(clean[key], values)
            item["device_raw"] = substitute(raw.get("device"), values)
        except SubstitutionError as exc:
            errors.append(ConfigError(raw.loc, field, f"{exc} (only {{n}} is known in a counted entry)"))
            return [], errors
        out.append((item, raw))
    return out, errors
