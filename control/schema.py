"""The ``control:`` site section: PID loops, calendars, schedules, rules, interlocks, rotations.

``SECTION`` validates the shape (every error with file, line and field);
``validate_site`` checks what needs the whole site: tags that exist and are
writable, cascade references without cycles, calendars that exist, and that no
tag has two control writers unless ``shared_writes`` declares the arbitration.
See docs/control.md for the meaning of each key.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from tagdb.site.errors import ConfigError, Loc
from tagdb.site.schema import (AnyValue, Bool, Duration, Field, ListOf, MapOf, Number, Obj, OneOf,
                               Schema, Str)

from .calendar import WEEKDAYS, parse_period
from .expr import ExprError, compile_expr

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_PATH = Str(min_len=1)
LOC_KEY = "_loc"
KEYS_KEY = "_key_locs"
ITEMS_KEY = "_item_locs"
#: How a shared_writes entry names a control writer: the kind and name, as in the audit's source.
WRITER_REF = rf"(loop|schedule|rule|rotation):{_NAME}"


class Located(Schema):
    """An ``Obj`` whose clean value remembers where it was written (for site checks)."""

    def __init__(self, fields: dict[str, Field], check_fn=None) -> None:
        self.inner = Obj(fields, check_fn)

    def check(self, value, field, loc):
        clean, errors = self.inner.check(value, field, loc)
        if isinstance(clean, dict):
            clean[LOC_KEY] = getattr(value, "loc", loc)
            clean[KEYS_KEY] = dict(getattr(value, "key_locs", {}))
            # Lines of list items (schedule targets, rotation members) for errors about one item.
            clean[ITEMS_KEY] = {k: list(v.item_locs) for k, v in value.items() if hasattr(v, "item_locs")}
        return clean, errors


class Date(Schema):
    """A calendar date: a YAML date (2026-10-01) or the same as a string."""

    def check(self, value, field, loc):
        if isinstance(value, date):
            return value, []
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value), []
            except ValueError as exc:
                return None, [ConfigError(loc, field, f"{value!r} is not a date: {exc}")]
        return None, [ConfigError(loc, field, f"expected a date YYYY-MM-DD, got {value!r}")]


class Expr(Schema):
    """An expression string, compiled now so that syntax errors name their line."""

    def __init__(self, variables: tuple[str, ...] = ()) -> None:
        self.variables = variables

    def check(self, value, field, loc):
        if not isinstance(value, str):
            return None, [ConfigError(loc, field, f"expected an expression string, got {value!r}")]
        try:
            return compile_expr(value, self.variables), []
        except ExprError as exc:
            return None, [ConfigError(loc, field, str(exc))]


class Period(Schema):
    """A time period "HH:MM-HH:MM" (end before start: runs past midnight)."""

    def check(self, value, field, loc):
        if not isinstance(value, str):
            return None, [ConfigError(loc, field, f"expected a period like 07:00-19:00, got {value!r}")]
        try:
            parse_period(value)
        except ValueError as exc:
            return None, [ConfigError(loc, field, str(exc))]
        return value, []


def _loop_check(loop: dict, field: str, raw: Any) -> list[ConfigError]:
    loc = getattr(raw, "loc", Loc("<control>"))
    errs = []
    sources = [k for k in ("sp", "sp_tag", "sp_loop") if loop.get(k) is not None]
    if not sources:
        errs.append(ConfigError(loc, field, "needs a setpoint: sp (a value), sp_tag or sp_loop (cascade)"))
    if loop["sp"] is not None and loop["sp_tag"] is not None:
        errs.append(ConfigError(loc, field, "give sp or sp_tag, not both"))
    if loop["out_min"] >= loop["out_max"]:
        errs.append(ConfigError(loc, f"{field}.out_min", "must be below out_max"))
    if loop["bad_pv"] == "safe" and loop["safe_output"] is None:
        errs.append(ConfigError(loc, f"{field}.safe_output", "is required when bad_pv is safe"))
    if loop["mode"] == "cascade" and loop["sp_loop"] is None:
        errs.append(ConfigError(loc, f"{field}.mode", "cascade needs sp_loop (the master loop)"))
    for key in ("safe_output", "disabled_output"):
        v = loop.get(key)
        if v is not None and not loop["out_min"] <= v <= loop["out_max"]:
            errs.append(ConfigError(loc, f"{field}.{key}", f"{v} is outside out_min..out_max"))
    return errs


LOOP = Located({
    "description": Field(Str(), default=""),
    "pv": Field(_PATH, required=True, doc="process value tag"),
    "out": Field(_PATH, doc="output tag (omit for a cascade master)"),
    "sp": Field(Number(), doc="local setpoint"),
    "sp_tag": Field(_PATH, doc="setpoint tag"),
    "sp_loop": Field(Str(pattern=_NAME), doc="cascade: the master loop whose output is this SP"),
    "sp_min": Field(Number(), default=float("-inf")),
    "sp_max": Field(Number(), default=float("inf")),
    "kp": Field(Number(), required=True),
    "ti": Field(Duration(), default=0.0, doc="integral time (0: no integral action)"),
    "td": Field(Duration(), default=0.0, doc="derivative time"),
    "action": Field(Str(choices=("direct", "reverse")), default="reverse",
                    doc="direct: output rises with PV (cooling); reverse: output falls as PV rises (heating)"),
    "out_min": Field(Number(), default=0.0),
    "out_max": Field(Number(), default=100.0),
    "rate_limit": Field(Number(min=0, exclusive_min=True), doc="output units per second"),
    "d_filter": Field(Number(min=1), default=10.0, doc="N: derivative filter time constant Td/N"),
    "tt": Field(Duration(allow_zero=False), doc="anti-windup tracking time (default sqrt(Ti*Td) or Ti)"),
    "sp_weight": Field(Number(min=0, max=1), default=1.0),
    "interval": Field(Duration(min=0.01, allow_zero=False)),
    "mode": Field(Str(choices=("auto", "manual", "cascade")), default="auto"),
    "bad_pv": Field(Str(choices=("hold", "safe")), default="hold"),
    "safe_output": Field(Number()),
    "enable": Field(Expr(), doc="the loop runs while true (e.g. fan proven)"),
    "disabled_output": Field(Number(), doc="output while disabled (default: hold)"),
    "track": Field(Expr(), doc="while true the output is forced from outside: follow it"),
    "write_deadband": Field(Number(min=0), default=0.0),
}, _loop_check)

class Day(Schema):
    """A calendar entry: a date, ``{date, name}`` or a range ``{from, to, name}``."""

    single = Obj({"date": Field(Date(), required=True), "name": Field(Str(), default="")})
    span = Obj({"from": Field(Date(), required=True), "to": Field(Date(), required=True),
                "name": Field(Str(), default="")},
               lambda d, f, raw: [] if d["from"] <= d["to"] else [
                   ConfigError(getattr(raw, "loc", Loc("<control>")), f"{f}.to", "is before from")])

    def check(self, value, field, loc):
        if isinstance(value, dict):
            return (self.span if "from" in value or "to" in value else self.single).check(value, field, loc)
        return Date().check(value, field, loc)


_DAY = Day()

CALENDAR = Located({
    "description": Field(Str(), default=""),
    "holidays": Field(ListOf(_DAY), default=[], doc="public holidays (date, or from/to range)"),
    "workdays": Field(ListOf(_DAY), default=[], doc="make-up working days (调休上班)"),
})

_PERIODS = ListOf(Period())
WEEK = Obj({k: Field(_PERIODS) for k in (*WEEKDAYS, "daily", "weekdays", "weekend", "holiday", "workday")})

DAYLIGHT = Obj({
    "lux": Field(_PATH, required=True),
    "on_below": Field(Number(), required=True),
    "off_above": Field(Number(), required=True),
    "min_hold": Field(Duration(), default=300.0),
}, lambda d, field, raw: [] if d["on_below"] < d["off_above"] else [
    ConfigError(getattr(raw, "loc", Loc("<control>")), f"{field}.on_below",
                "must be below off_above (that gap is the hysteresis)")])

SCHEDULE = Located({
    "description": Field(Str(), default=""),
    "calendar": Field(Str(pattern=_NAME)),
    "targets": Field(ListOf(_PATH, min_len=1), required=True),
    "on_value": Field(AnyValue(), default=True),
    "off_value": Field(AnyValue(), default=False),
    "week": Field(WEEK, required=True),
    "daylight": Field(DAYLIGHT),
})

STEP = OneOf((
    Obj({"write": Field(_PATH, required=True), "value": Field(AnyValue(), required=True),
         "verify": Field(Bool(), default=True)}),
    Obj({"write": Field(_PATH, required=True), "expr": Field(Expr(), required=True),
         "verify": Field(Bool(), default=True)}),
    Obj({"delay": Field(Duration(), required=True)}),
    Obj({"wait": Field(Expr(), required=True), "timeout": Field(Duration(), default=30.0)}),
))


class Steps(Schema):
    """A list of steps with a clear error when an item fits no step kind."""

    def check(self, value, field, loc):
        if not isinstance(value, list):
            return None, [ConfigError(loc, field, "expected a list of steps")]
        out, errs = [], []
        for i, item in enumerate(value):
            iloc = value.loc_of(i) if hasattr(value, "loc_of") else loc
            clean, e = STEP.check(item, f"{field}[{i}]", iloc)
            if e and isinstance(item, dict) and not ({"write", "delay", "wait"} & set(item)):
                e = [ConfigError(iloc, f"{field}[{i}]", "a step is {write, value|expr}, {delay} or {wait, timeout}")]
            errs += e
            if isinstance(clean, dict):
                clean[LOC_KEY] = iloc      # the step's own line, for errors about its write
            out.append(clean)
        return out, errs


RULE = Located({
    "description": Field(Str(), default=""),
    "when": Field(Expr(), required=True),
    "for": Field(Duration(), default=0.0, doc="the condition must hold this long"),
    "mode": Field(Str(choices=("once", "continuous")), default="once"),
    "do": Field(Steps(), required=True),
    "else": Field(Steps(), default=[]),
    "interval": Field(Duration(min=0.01, allow_zero=False), default=1.0),
})

INTERLOCK = Located({
    "description": Field(Str(), default=""),
    "tags": Field(ListOf(_PATH, min_len=1), required=True, doc="guarded tags (paths or globs)"),
    "block": Field(Expr(variables=("value", "path")), required=True,
                   doc="true refuses the write; 'value' is the value being written"),
    "message": Field(Str(), default=""),
})

MEMBER = Located({
    "name": Field(Str(pattern=_NAME), required=True),
    "run_hours": Field(_PATH, required=True),
    "command": Field(_PATH, required=True),
    "on_value": Field(AnyValue(), default=True),
    "off_value": Field(AnyValue(), default=False),
    "fault": Field(Expr(), doc="true (or unknown) takes the member out of duty"),
})

ROTATION = Located({
    "description": Field(Str(), default=""),
    "members": Field(ListOf(MEMBER, min_len=2), required=True),
    "rotate_after_hours": Field(Number(min=0, exclusive_min=True), required=True),
    "demand": Field(OneOf((Number(integer=True, min=0), Expr())), default=1),
    "interval": Field(Duration(allow_zero=False), default=60.0),
})

SHARED = Located({
    "writers": Field(ListOf(Str(pattern=WRITER_REF, hint="kind:name, kind one of loop, schedule, rule, rotation"),
                            min_len=2), required=True,
                     doc="the control writers allowed to share this tag: loop:<name>, schedule:<name>, ..."),
    "reason": Field(Str(min_len=1), required=True, doc="why they cannot fight (for the next engineer)"),
})

INPUT = Located({
    "description": Field(Str(), default=""),
    "type": Field(Str(choices=("bool", "float", "int", "string")), default="bool"),
    "initial": Field(AnyValue(), doc="value at start-up (false, 0 or '' by default)"),
    "pulse": Field(Duration(allow_zero=False), doc="return to the initial value this long after a write"),
})

SECTION = Obj({
    "interval": Field(Duration(min=0.01, allow_zero=False), default=1.0, doc="default loop interval"),
    "schedule_interval": Field(Duration(allow_zero=False), default=10.0),
    "readback_timeout": Field(Duration(allow_zero=False), default=5.0),
    "critical": Field(ListOf(_PATH), default=[], doc="tags (globs) whose writes need confirmation"),
    "feedback": Field(MapOf(_PATH, key_pattern=r".+", key_hint="a path or '*suffix'"), default={},
                      doc="read-back tag per command tag: {'*_cmd': '*_status'}"),
    "calendars": Field(MapOf(CALENDAR), default={}),
    "loops": Field(MapOf(LOOP), default={}),
    "schedules": Field(MapOf(SCHEDULE), default={}),
    "rules": Field(MapOf(RULE), default={}),
    "interlocks": Field(MapOf(INTERLOCK), default={}),
    "rotations": Field(MapOf(ROTATION), default={}),
    "inputs": Field(MapOf(INPUT), default={},
                    doc="soft points _system/control/inputs/<name> set through the command path"),
    "shared_writes": Field(MapOf(SHARED, key_pattern=r"\S+", key_hint="a tag path"), default={},
                           doc="tags deliberately written by more than one control writer"),
})


def validate_site(site) -> list[ConfigError]:
    """Cross-references of the control section against the site's tags."""
    from .validate import check_section
    section = site.section("control")
    if section is None:
        return []
    return check_section(section, {t.path: t for t in site.tags}, site.files)
