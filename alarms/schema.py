"""Configuration schema of the alarm system.

``TAG_RULE`` is one item under a tag's ``alarms:`` key (also used inside
equipment templates); ``SECTION`` is the top-level ``alarms:`` key (priorities,
rule defaults, site-wide rules and expression alarms, suppression groups,
operator positions, channels, rosters, notification pipelines, KPI settings).
``validate_site`` checks the cross references once the whole site is loaded.

Rule kinds (``type``):

* ``limit``: analog ``hh``/``h``/``l``/``ll`` (each a number or ``{limit, priority, message}``)
* ``digital``: alarm while the value equals ``state`` (default ``true``)
* ``deviation``: ``|value - setpoint| > high`` / ``< -low``; ``setpoint`` is a tag path or a number
* ``rate``: ``|change| / per > rate`` (``direction`` rise, fall or both)
* ``quality``: value Bad for longer than ``after`` (a communication alarm)
* ``stale``: no change for ``after``
* ``expression``: ``expression`` over named ``inputs`` (tag paths); the tag's own value is ``value``
"""

from __future__ import annotations

from typing import Any

from tagdb.site.errors import ConfigError, Loc
from tagdb.site.schema import (AnyValue, Bool, Duration, Field, ListOf, MapOf, Number, Obj, OneOf,
                               Str)

from .errors import ExpressionError
from .expr import parse

RULE_TYPES = ("limit", "digital", "deviation", "rate", "quality", "stale", "expression")
LIMIT_LEVELS = ("hh", "h", "l", "ll")
DEFAULT_PRIORITIES = {"critical": 1, "high": 2, "medium": 3, "low": 4}
NOTIFY_EVENTS = ("activate", "ack", "clear", "escalate")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
_PRIORITY = Str(pattern=_NAME, hint="a priority name")
_TAG_PATH = Str(min_len=1)
_TIME = Str(pattern=r"([01]\d|2[0-3]):[0-5]\d|24:00", hint="HH:MM")

_LEVEL = OneOf((Number(), Obj({
    "limit": Field(Number(), required=True),
    "priority": Field(_PRIORITY),
    "message": Field(Str()),
})))

_RULE_FIELDS: dict[str, Field] = {
    "type": Field(Str(choices=RULE_TYPES), required=True, doc="kind of rule"),
    "name": Field(Str(pattern=_NAME, hint="letters, digits, '_', '-', '.'"),
                  doc="alarm name, unique per tag; defaults to the type (limit levels: HH, H, L, LL)"),
    "priority": Field(_PRIORITY, doc="critical, high, medium, low (or a configured priority)"),
    "message": Field(Str(), doc="template: {tag} {name} {value} {limit} {units} {description} {equipment} {area}"),
    "latch": Field(Bool(), default=False, doc="stay active until acknowledged after return to normal"),
    "area": Field(Str(pattern=_NAME), doc="owning area (defaults to the equipment's)"),
    "equipment": Field(Str(min_len=1), doc="owning equipment id (defaults to the tag's)"),
    "on_delay": Field(Duration(), doc="condition must hold this long before the alarm activates"),
    "off_delay": Field(Duration(), doc="condition must be clear this long before the alarm clears"),
    "deadband": Field(Number(min=0), doc="analog hysteresis in engineering units"),
    "enabled": Field(Bool(), default=True, doc="false puts the alarm out of service by configuration"),
    "suppress": Field(ListOf(Str(pattern=_NAME)), default=[], doc="suppression groups that apply"),
    "notify": Field(Bool(), default=True, doc="false: journal and HMI only, no notification"),
    # limit
    **{lvl: Field(_LEVEL) for lvl in LIMIT_LEVELS},
    # digital
    "state": Field(AnyValue(), doc="the alarm state of a digital tag (default true)"),
    # deviation
    "setpoint": Field(OneOf((Number(), _TAG_PATH)), doc="setpoint tag path or constant"),
    "high": Field(Number(min=0), doc="deviation above the setpoint"),
    "low": Field(Number(min=0), doc="deviation below the setpoint"),
    # rate
    "rate": Field(Number(min=0, exclusive_min=True), doc="largest allowed change per `per`"),
    "per": Field(Duration(allow_zero=False), default=60.0),
    "direction": Field(Str(choices=("rise", "fall", "both")), default="both"),
    # quality / stale
    "after": Field(Duration(), doc="quality: Bad this long; stale: unchanged this long"),
    # expression
    "expression": Field(Str(min_len=1)),
    "inputs": Field(MapOf(_TAG_PATH, key_pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                          key_hint="a Python-style identifier"), default={}),
}

_ALLOWED = {
    "limit": set(LIMIT_LEVELS) | {"deadband"},
    "digital": {"state"},
    "deviation": {"setpoint", "high", "low", "deadband"},
    "rate": {"rate", "per", "direction"},
    "quality": {"after"},
    "stale": {"after"},
    "expression": {"expression", "inputs"},
}
_SPECIFIC = set().union(*_ALLOWED.values()) - {"per", "direction", "inputs"}


def _check_rule(rule: dict, field: str, raw: Any) -> list[ConfigError]:
    loc = raw.loc if raw is not None and hasattr(raw, "loc") else Loc("<alarms>")
    key_loc = raw.loc_of if raw is not None and hasattr(raw, "loc_of") else (lambda k: loc)
    kind = rule["type"]
    errors: list[ConfigError] = []
    for key in sorted(_SPECIFIC - _ALLOWED[kind]):
        if rule.get(key) is not None:
            errors.append(ConfigError(key_loc(key), f"{field}.{key}", f"does not apply to a {kind} rule"))
    if kind == "limit":
        levels = {lvl: _limit_of(rule[lvl]) for lvl in LIMIT_LEVELS if rule.get(lvl) is not None}
        if not levels:
            errors.append(ConfigError(loc, field, "a limit rule needs at least one of hh, h, l, ll"))
        order = [lvl for lvl in LIMIT_LEVELS if lvl in levels]
        for a, b in zip(order, order[1:]):
            if levels[a] <= levels[b]:
                errors.append(ConfigError(key_loc(b), f"{field}.{b}",
                                          f"{b} ({levels[b]}) must be below {a} ({levels[a]})"))
    elif kind == "deviation":
        if rule.get("setpoint") is None:
            errors.append(ConfigError(loc, f"{field}.setpoint", "is required for a deviation rule"))
        if rule.get("high") is None and rule.get("low") is None:
            errors.append(ConfigError(loc, field, "a deviation rule needs high and/or low"))
    elif kind == "rate" and rule.get("rate") is None:
        errors.append(ConfigError(loc, f"{field}.rate", "is required for a rate rule"))
    elif kind in ("quality", "stale") and rule.get("after") is None:
        errors.append(ConfigError(loc, f"{field}.after", f"is required for a {kind} rule"))
    elif kind == "expression":
        if rule.get("expression") is None:
            errors.append(ConfigError(loc, f"{field}.expression", "is required for an expression rule"))
        else:
            errors += _check_expression(rule["expression"], set(rule["inputs"]) | {"value"},
                                        f"{field}.expression", key_loc("expression"))
    return errors


def _check_expression(source: str, names: set[str], field: str, loc: Loc) -> list[ConfigError]:
    try:
        expr = parse(source)
    except ExpressionError as exc:
        return [ConfigError(loc, field, str(exc))]
    missing = sorted(expr.names - names)
    if missing:
        return [ConfigError(loc, field, f"unknown name(s) {', '.join(missing)}: bind them under inputs")]
    return []


def _limit_of(level: Any) -> float:
    return level["limit"] if isinstance(level, dict) else level


#: One item under a tag's ``alarms:`` key (and in equipment templates).
TAG_RULE = Obj(_RULE_FIELDS, check_fn=_check_rule)


def _check_site_rule(rule: dict, field: str, raw: Any) -> list[ConfigError]:
    errors = _check_rule(rule, field, raw)
    loc = raw.loc if raw is not None and hasattr(raw, "loc") else Loc("<alarms>")
    if rule["type"] != "expression" and not rule.get("tag"):
        errors.append(ConfigError(loc, f"{field}.tag", f"is required for a {rule['type']} rule"))
    if rule["type"] == "expression" and not rule.get("tag") and not rule.get("name"):
        errors.append(ConfigError(loc, f"{field}.name", "is required for an expression rule without a tag"))
    return errors


#: A site-wide rule: a tag rule plus ``tag`` (a path or a glob applied to every match).
SITE_RULE = Obj({**_RULE_FIELDS,
                 "tag": Field(_TAG_PATH, doc="tag path or pattern (tower-a/*/comm_ok)")},
                check_fn=_check_site_rule)

#: One item of an equipment template's ``alarms:`` list: ``tag`` is a tag of the
#: equipment (relative name), expression inputs may be relative too.
EQUIPMENT_RULE = SITE_RULE

_SUPPRESSION = Obj({
    "when": Field(Str(min_len=1), required=True, doc="expression over inputs; true suppresses"),
    "inputs": Field(MapOf(_TAG_PATH, key_pattern=r"[A-Za-z_][A-Za-z0-9_]*"), default={}),
    "alarms": Field(ListOf(_TAG_PATH), default=[], doc="alarm/tag patterns suppressed (ahu-1/**)"),
    "equipment": Field(ListOf(Str(min_len=1)), default=[], doc="equipment whose alarms are suppressed"),
    "delay": Field(Duration(), default=0.0, doc="keep suppressing this long after the condition ends"),
}, check_fn=lambda v, f, raw: _check_expression(v["when"], set(v["inputs"]), f"{f}.when",
                                                raw.loc_of("when") if raw is not None else Loc("<alarms>")))

_CONTACT = Obj({
    "name": Field(Str(min_len=1), required=True),
    "email": Field(Str(pattern=r"[^@\s]+@[^@\s]+", hint="an e-mail address")),
    "phone": Field(Str(pattern=r"\+?[0-9 ()\-]{3,}", hint="a phone number")),
    "webhook": Field(Str(pattern=r"https?://\S+", hint="an http(s) URL")),
})

_SHIFT = Obj({
    "days": Field(ListOf(Str(choices=WEEKDAYS), min_len=1), default=list(WEEKDAYS)),
    "start": Field(_TIME, default="00:00"),
    "end": Field(_TIME, default="24:00", doc="end before start wraps past midnight"),
    "on_call": Field(ListOf(Str(pattern=_NAME), min_len=1), required=True, doc="contact ids"),
})

_ROSTER = Obj({
    "timezone": Field(Str(min_len=1), doc="defaults to the site's timezone"),
    "shifts": Field(ListOf(_SHIFT), default=[]),
    "default": Field(ListOf(Str(pattern=_NAME)), default=[], doc="contacts when no shift matches"),
})

_CHANNEL = Obj({
    "type": Field(Str(choices=("email", "sms", "webhook")), required=True),
    # email
    "host": Field(Str(min_len=1), default="127.0.0.1"),
    "port": Field(Number(integer=True, min=1, max=65535)),
    "port_env": Field(Str(pattern=r"[A-Z_][A-Z0-9_]*", hint="an environment variable name"),
                      doc="environment variable that, when set, overrides port (e.g. the demo's mail catcher)"),
    "sender": Field(Str(pattern=r"[^@\s]+@[^@\s]+", hint="an e-mail address"), default="spms@localhost"),
    "starttls": Field(Bool(), default=False),
    "username": Field(Str()),
    "password_env": Field(Str(pattern=r"[A-Z_][A-Z0-9_]*", hint="an environment variable name")),
    # sms / webhook
    "url": Field(Str(pattern=r"https?://\S+", hint="an http(s) URL")),
    "method": Field(Str(choices=("GET", "POST", "PUT")), default="POST"),
    "headers": Field(MapOf(Str(), key_pattern=r"[A-Za-z0-9\-]+"), default={}),
    "body": Field(Str(), doc="sms request body template: {to} {text} {subject}"),
    "ok_status": Field(ListOf(Number(integer=True, min=100, max=599)), default=[200, 201, 202, 204]),
    "timeout": Field(Duration(allow_zero=False), default=10.0),
    "max_per_minute": Field(Number(integer=True, min=1), doc="channel-wide rate limit"),
}, check_fn=lambda v, f, raw: _check_channel(v, f, raw))


def _check_channel(ch: dict, field: str, raw: Any) -> list[ConfigError]:
    loc = raw.loc if raw is not None and hasattr(raw, "loc") else Loc("<alarms>")
    if ch["type"] in ("sms", "webhook") and not ch.get("url"):
        return [ConfigError(loc, f"{field}.url", f"is required for a {ch['type']} channel")]
    if ch["type"] == "email" and ch.get("port") is None:
        return [ConfigError(loc, f"{field}.port", "is required for an email channel")]
    return []


_STEP = Obj({
    "roster": Field(Str(pattern=_NAME), required=True),
    "channels": Field(ListOf(Str(pattern=_NAME), min_len=1), required=True),
    "after": Field(Duration(), default=0.0, doc="escalate to this step when still unacknowledged"),
})

_PIPELINE = Obj({
    "priorities": Field(ListOf(_PRIORITY), default=[], doc="empty: every priority"),
    "areas": Field(ListOf(Str(pattern=_NAME)), default=[], doc="empty: every area"),
    "equipment": Field(ListOf(Str(min_len=1)), default=[], doc="equipment id patterns; empty: all"),
    "delay": Field(Duration(), default=0.0, doc="wait this long; no message if acked or cleared meanwhile"),
    "steps": Field(ListOf(_STEP, min_len=1), required=True, doc="first step, then escalations"),
    "notify_on": Field(ListOf(Str(choices=NOTIFY_EVENTS)), default=["activate", "escalate"]),
    "group_window": Field(Duration(), default=30.0, doc="flood grouping window"),
    "group_threshold": Field(Number(integer=True, min=2), default=5,
                             doc="more messages than this in one window become one summary"),
    "max_per_hour": Field(Number(integer=True, min=1), doc="rate limit per recipient"),
})

_POSITION = Obj({
    "areas": Field(ListOf(Str(pattern=_NAME)), default=[], doc="empty: every area"),
    "buildings": Field(ListOf(Str(pattern=_NAME)), default=[]),
})

_DEFAULTS = Obj({
    "priority": Field(_PRIORITY, default="medium"),
    "on_delay": Field(Duration(), default=0.0),
    "off_delay": Field(Duration(), default=0.0),
    "deadband": Field(Number(min=0), default=0.0),
    "comm_after": Field(Duration(), default=10.0,
                        doc="Bad quality this long raises the tag's communication alarm"),
    "comm_priority": Field(_PRIORITY, default="high"),
})

_KPI = Obj({
    "interval": Field(Duration(allow_zero=False), default=10.0, doc="how often KPI tags are refreshed"),
    "flood_threshold": Field(Number(integer=True, min=1), default=10),
    "chatter_count": Field(Number(integer=True, min=2), default=3),
    "chatter_window": Field(Duration(allow_zero=False), default=60.0),
    "stale_after": Field(Duration(allow_zero=False), default=86400.0),
})

_OUTBOX = Obj({
    "retry_initial": Field(Duration(allow_zero=False), default=10.0),
    "retry_max": Field(Duration(allow_zero=False), default=1800.0),
    "max_attempts": Field(Number(integer=True, min=1), default=50, doc="then the message is dead-lettered"),
})

#: The top-level ``alarms:`` key.
SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "priorities": Field(MapOf(Number(integer=True, min=1)), default=dict(DEFAULT_PRIORITIES),
                        doc="name -> rank (1 most urgent)"),
    "defaults": Field(_DEFAULTS, default=None),
    "comm_alarms": Field(Bool(), default=True, doc="raise a communication alarm per device-backed tag with rules"),
    "rules": Field(ListOf(SITE_RULE), default=[]),
    "suppression": Field(MapOf(_SUPPRESSION), default={}),
    "positions": Field(MapOf(_POSITION), default={}, doc="operator positions for KPIs"),
    "contacts": Field(MapOf(_CONTACT), default={}),
    "rosters": Field(MapOf(_ROSTER), default={}),
    "channels": Field(MapOf(_CHANNEL), default={}),
    "pipelines": Field(MapOf(_PIPELINE), default={}),
    "kpi": Field(_KPI, default=None),
    "outbox": Field(_OUTBOX, default=None),
    "database": Field(Str(min_len=1), doc="SQLAlchemy URL for the journal when no business database runs"),
})


def section_defaults(section: dict | None) -> dict:
    """The section with every nested default filled in (also for an absent section)."""
    out = dict(section or {})
    for key, schema in (("defaults", _DEFAULTS), ("kpi", _KPI), ("outbox", _OUTBOX)):
        if out.get(key) is None:
            out[key], _ = schema.check({}, key, Loc("<defaults>"))
    for name, fld in SECTION.fields.items():
        if name not in out:
            out[name] = fld.default
    return out


def validate_site(site) -> list[ConfigError]:
    """Cross-reference checks: rules naming unknown tags, priorities, rosters, channels, groups."""
    from .validate import validate_site as _impl  # keeps this module importable by the loader alone

    return _impl(site)


