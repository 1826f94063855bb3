"""The ``service:`` site section: work-order kinds and SLAs, alarm rules that open orders,
telemetry health checks, escalation, auto-close, notifications and preventive plans.

Example::

    service:
      tick: 30s
      auto_close_after: 3d
      kinds: {repair: {priority: high, response: 1h, completion: 8h, skills: []}}
      alarm_rules:
        - alarms: ["*/elevator-*/fault_code:*"]
          kind: repair
          skills: [elevator]
          healthy_for: 10m
          healthy: [{tag: fault_code, max: 0}, {tag: in_service, equals: true}]
      reviews: {schedule: monthly, day: 1, at: "02:00"}   # staff reviews of last month, by themselves
      plans:
        - {code: lift-monthly, name: 电梯月度保养, category: elevator, trigger: calendar, every: 1, unit: months}
        - {code: lift-500h, name: 电梯500小时保养, category: elevator, trigger: usage, tag: run_hours,
           threshold: 500, lead: 50}
"""

from __future__ import annotations

import re

from tagdb.site.errors import ConfigError, Loc
from tagdb.site.schema import AnyValue, Bool, Duration, Field, Int, ListOf, MapOf, Number, Obj, Schema, Str

from .models import KINDS, PRIORITIES

HOUR, DAY = 3600.0, 86400.0

#: kind → priority, response (s), completion (s), required skills
DEFAULT_KINDS: dict[str, dict] = {
    "repair": {"priority": "normal", "response": 2 * HOUR, "completion": DAY, "skills": []},
    "cleaning": {"priority": "low", "response": 4 * HOUR, "completion": DAY, "skills": ["cleaning"]},
    "complaint": {"priority": "normal", "response": 2 * HOUR, "completion": 3 * DAY, "skills": []},
    "inspection": {"priority": "low", "response": DAY, "completion": 7 * DAY, "skills": []},
    "preventive": {"priority": "normal", "response": DAY, "completion": 7 * DAY, "skills": []},
    "emergency": {"priority": "critical", "response": 900.0, "completion": 4 * HOUR, "skills": []},
}

KIND = Obj({
    "priority": Field(Str(choices=PRIORITIES)),
    "response": Field(Duration(min=1), doc="SLA: accepted within"),
    "completion": Field(Duration(min=1), doc="SLA: completed within"),
    "skills": Field(ListOf(Str(min_len=1))),
})

HEALTH = Obj({
    "tag": Field(Str(min_len=1), required=True, doc="tag name on the equipment (fault_code) or a full path"),
    "min": Field(Number()),
    "max": Field(Number()),
    "equals": Field(AnyValue()),
})

ALARM_RULE = Obj({
    "alarms": Field(ListOf(Str(min_len=1), min_len=1), required=True,
                    doc="alarm id patterns (<tag>:<name>, wildcards * and **)"),
    "kind": Field(Str(choices=KINDS), default="repair"),
    "priority": Field(Str(choices=PRIORITIES), doc="default: the alarm's priority mapped to ours"),
    "skills": Field(ListOf(Str(min_len=1))),
    "healthy_for": Field(Duration(), default=600.0, doc="key values healthy this long before verification"),
    "healthy": Field(ListOf(HEALTH), default=[]),
})

PLAN = Obj({
    "code": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.\-]*"), required=True),
    "name": Field(Str(min_len=1), required=True),
    "asset": Field(Str(), doc="equipment id of one asset (else every asset of the category)"),
    "category": Field(Str(), default=""),
    "trigger": Field(Str(choices=("calendar", "usage")), required=True),
    "every": Field(Int(min=1)),
    "unit": Field(Str(choices=("days", "weeks", "months")), default="days"),
    "dates": Field(ListOf(Str(pattern=r"\d{4}-\d{2}-\d{2}", hint="YYYY-MM-DD")), default=[]),
    "tag": Field(Str(), default="", doc="usage counter tag name on the equipment (run_hours, trips)"),
    "threshold": Field(Number(min=0, exclusive_min=True)),
    "lead": Field(Number(min=0), default=0, doc="usage: order and remind this many counts early"),
    "lead_days": Field(Int(min=0, max=365), default=7, doc="calendar: order this many days early"),
    "skills": Field(ListOf(Str(min_len=1)), default=[]),
})


def _plan_check(plan: dict, field: str, loc) -> list[ConfigError]:
    errors = []
    where = Loc("service") if loc is None else getattr(loc, "loc", Loc("service"))
    if plan["trigger"] == "calendar" and not plan.get("every") and not plan.get("dates"):
        errors.append(ConfigError(where, field, "a calendar plan needs 'every' or 'dates'"))
    if plan["trigger"] == "usage" and (not plan.get("tag") or not plan.get("threshold")):
        errors.append(ConfigError(where, field, "a usage plan needs 'tag' and 'threshold'"))
    if not plan.get("asset") and not plan.get("category"):
        errors.append(ConfigError(where, field, "name an 'asset' (equipment id) or a 'category'"))
    return errors


PLAN.check_fn = _plan_check


class LocalTime(Schema):
    """``"HH:MM"`` (00:00–23:59) in the property's timezone.

    YAML 1.1 reads an unquoted ``12:30`` as the sexagesimal number 750, so a number
    here gets an error that says to quote the time instead of a bare type mismatch.
    """

    description = "HH:MM"

    def check(self, value, field, loc):
        """Validate ``value`` found at ``field`` / ``loc``."""
        if isinstance(value, int) and not isinstance(value, bool):
            return None, [ConfigError(loc, field, f"expected a time \"HH:MM\", got the number {value}: "
                                                  f"write the time in quotes (YAML reads 12:30 as 750)")]
        if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            return None, [ConfigError(loc, field, f"expected a time \"HH:MM\" from 00:00 to 23:59, got {value!r}")]
        return value, []


REVIEWS_DEFAULT = {"enabled": True, "schedule": "monthly", "day": 1, "at": "02:00"}

REVIEWS = Obj({
    "enabled": Field(Bool(), default=True, doc="false: reviews only through POST /workorders/reviews"),
    "schedule": Field(Str(choices=("monthly", "quarterly")), default="monthly",
                      doc="period reviewed: 2026-11 or 2026-Q4"),
    "day": Field(Int(min=1, max=28), default=1, doc="day of the next period's first month the review runs"),
    "at": Field(LocalTime(), default="02:00", doc="local time (the property's timezone) the review runs"),
})

SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "tick": Field(Duration(min=0.05), default=30.0, doc="scheduler period: escalation, auto-close, plans, health"),
    "number_prefix": Field(Str(pattern=r"[A-Z]{1,6}"), default="WO"),
    "auto_assign": Field(Bool(), default=True),
    "auto_close_after": Field(Duration(min=1), default=3 * DAY, doc="verified and unrated: closed after"),
    "escalate_repeat": Field(Duration(min=1), default=HOUR, doc="escalate again after"),
    "kinds": Field(MapOf(KIND), default={}),
    "alarm_rules": Field(ListOf(ALARM_RULE), default=[]),
    "plans": Field(ListOf(PLAN), default=[]),
    "reviews": Field(REVIEWS, default=dict(REVIEWS_DEFAULT),
                     doc="staff reviews of the previous period, computed by themselves"),
    "notify": Field(Obj({
        "enabled": Field(Bool(), default=True),
        "channels": Field(MapOf(Str(min_len=1)), default={"email": "email", "sms": "sms"},
                          doc="preferred channel (sms, email, ...) → outbox channel name"),
        "staff_channel": Field(Str(), default="sms"),
        "managers": Field(ListOf(Obj({"channel": Field(Str(min_len=1), required=True),
                                      "recipient": Field(Str(min_len=1), required=True)})), default=[],
                          doc="who hears about escalations"),
    }), default={"enabled": True, "channels": {"email": "email", "sms": "sms"}, "staff_channel": "sms",
                 "managers": []}),
})


def validate_site(site) -> list[ConfigError]:
    """Kinds must be known; plan assets must be site equipment; usage plans' tags must exist."""
    section = site.section("service") or {}
    errors = []
    for name in section.get("kinds") or {}:
        if name not in KINDS:
            errors.append(ConfigError(Loc("service"), f"service.kinds.{name}",
                                      f"unknown kind {name!r} (kinds: {', '.join(KINDS)})"))
    from tagdb.patterns import compile_pattern

    for i, rule in enumerate(section.get("alarm_rules") or []):
        for j, pattern in enumerate(rule.get("alarms") or []):
            try:
                compile_pattern(pattern)
            except Exception as exc:      # PatternError names what is wrong
                errors.append(ConfigError(Loc("service"), f"service.alarm_rules[{i}].alarms[{j}]", str(exc)))
            if ":" not in pattern:
                errors.append(ConfigError(Loc("service"), f"service.alarm_rules[{i}].alarms[{j}]",
                                          f"{pattern!r} matches no alarm: alarm ids are <tag>:<name> "
                                          f"(e.g. '{pattern}:*')"))
    equipment = {eq.id: eq for eq in getattr(site, "equipment", ()) or ()}
    for i, plan in enumerate(section.get("plans") or []):
        asset = plan.get("asset")
        if asset and asset not in equipment:
            errors.append(ConfigError(Loc("service"), f"service.plans[{i}].asset", f"unknown equipment {asset!r}"))
        elif asset and plan["trigger"] == "usage" and f"{asset}/{plan['tag']}" not in equipment[asset].tags:
            errors.append(ConfigError(Loc("service"), f"service.plans[{i}].tag",
                                      f"equipment {asset!r} has no tag {plan['tag']!r}"))
    return errors


def kind_defaults(section: dict | None) -> dict[str, dict]:
    """Every kind's settings: the built-in defaults overridden by the site's ``kinds``."""
    out = {k: dict(v) for k, v in DEFAULT_KINDS.items()}
    for name, cfg in ((section or {}).get("kinds") or {}).items():
        out.setdefault(name, {}).update({k: v for k, v in cfg.items() if v is not None})
    return out


def defaults(section: dict | None) -> dict:
    """A complete section (for code built without a site, e.g. tests)."""
    clean, errors = SECTION.check(dict(section or {}), "service", Loc("service"))
    if errors:
        raise ValueError("; ".join(str(e) for e in errors))
    return clean
