"""Compile the site's alarm configuration into alarm definitions and evaluation tables.

The compiler walks every rule with :func:`alarms.validate.iter_rules` (so it
agrees with the validator), expands limit rules into one alarm per level,
adds one communication alarm per device whose tags carry rules, and groups the
rest by the tags they read, so a batch of changes touches only what it must.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import numpy as np

from tagdb.patterns import compile_pattern

from .expr import Expression, parse
from .limits import LimitTable
from .model import AlarmDef
from .schema import DEFAULT_PRIORITIES, LIMIT_LEVELS, section_defaults
from .validate import iter_rules, iter_system_rules, resolve_path

_LEVEL_SIGN = {"hh": 1, "h": 1, "l": -1, "ll": -1}
_LEVEL_PRIORITY = {"hh": "high", "ll": "high"}
DEFAULT_MESSAGES = {
    "limit": "{description} {level}: {value} {units} (limit {limit})",
    "digital": "{description}: {value}",
    "deviation": "{description} deviates from setpoint: {value} {units} (band {limit})",
    "rate": "{description} changes too fast: {value} {units}",
    "quality": "Communication lost: {tag}",
    "stale": "{description} has not changed for {limit} s",
    "expression": "{name}",
}


@dataclass
class SuppressionGroup:
    """A state-based suppression: while ``when`` is true the member alarms are hidden."""

    name: str
    when: Expression
    inputs: dict[str, str]
    delay: float
    members: set[str] = field(default_factory=set)
    patterns: tuple = ()           # alarm id / tag predicates (for alarms attached at run time)
    equipment: frozenset = frozenset()

    def covers(self, d: AlarmDef) -> bool:
        """True when the alarm ``d`` belongs to this group."""
        return (self.name in d.suppress or d.equipment in self.equipment
                or any(p(d.id) or (d.tag and p(d.tag)) for p in self.patterns))


@dataclass
class RuleSet:
    """Everything the engine evaluates, built once from the site."""

    defs: dict[str, AlarmDef] = field(default_factory=dict)
    limit_tags: dict[str, int] = field(default_factory=dict)      # path -> tag index of the limit table
    limit_alarms: list[str] = field(default_factory=list)          # limit rule index -> alarm id
    limits: LimitTable | None = None
    per_tag: dict[str, list[AlarmDef]] = field(default_factory=lambda: defaultdict(list))  # digital, rate, stale
    deviation_by_input: dict[str, list[AlarmDef]] = field(default_factory=lambda: defaultdict(list))
    expressions: dict[str, Expression] = field(default_factory=dict)  # alarm id -> parsed
    expression_by_input: dict[str, list[AlarmDef]] = field(default_factory=lambda: defaultdict(list))
    comm_by_tag: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # path -> comm alarm ids
    comm_members: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # comm alarm -> paths
    groups: dict[str, SuppressionGroup] = field(default_factory=dict)
    group_by_input: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    watched: set[str] = field(default_factory=set)                 # every tag path the engine reads
    #: path -> (limit tag index | None, comm alarm ids, digital/rate/stale defs, deviation defs,
    #: expression defs, suppression groups): one lookup per changed tag in the hot loop.
    path_info: dict[str, tuple] = field(default_factory=dict)
    #: rules on run-time ``_system/...`` tags: (pattern, rule, origin), attached when the tags appear
    system_rules: list[tuple[str, Mapping[str, Any], str]] = field(default_factory=list)
    defaults: Mapping[str, Any] = field(default_factory=dict)   # the section's rule defaults
    priorities: frozenset = frozenset()                          # the site's priority names

    def limit_rule_index(self) -> dict[str, int]:
        """Alarm id -> its row in the limit table."""
        return {a: i for i, a in enumerate(self.limit_alarms)}


def compile_site(site) -> RuleSet:
    """Build the :class:`RuleSet` of a validated site."""
    section = section_defaults(site.section("alarms"))
    defaults = section["defaults"]
    tags = {t.path: t for t in site.tags}
    equipment = {e.id: e for e in site.equipment}
    devices = site.devices
    rs = RuleSet(defaults=defaults, priorities=frozenset(section.get("priorities") or DEFAULT_PRIORITIES))
    rs.system_rules = [(rule["tag"], rule, field) for rule, field in iter_system_rules(site)]
    lim_tag, lim_limit, lim_sign, lim_db = [], [], [], []

    def owner(rule, tag, eq_id):
        """(equipment, area, building) owning an alarm."""
        eq = equipment.get(rule.get("equipment") or eq_id or "")
        area = rule.get("area") or (eq.area if eq else None)
        building = eq.building if eq else None
        if building is None and tag and tags[tag].device in devices:
            building = devices[tags[tag].device].building
        return (eq.id if eq else rule.get("equipment") or eq_id), area, building

    for place, problems in iter_rules(site):
        if problems:
            continue
        rule, tag = place.rule, place.tag
        kind = rule["type"]
        spec = tags.get(tag) if tag else None
        eq_id, area, building = owner(rule, tag, place.equipment)
        base = dict(
            rule_type=kind, tag=tag, area=area, equipment=eq_id, building=building,
            latch=bool(rule.get("latch")),
            on_delay=_pick(rule.get("on_delay"), defaults["on_delay"]),
            off_delay=_pick(rule.get("off_delay"), defaults["off_delay"]),
            deadband=_pick(rule.get("deadband"), defaults["deadband"]),
            enabled=rule.get("enabled", True), suppress=tuple(rule.get("suppress") or ()),
            notify=rule.get("notify", True),
            units=spec.units if spec else "",
            description=(spec.description or spec.path) if spec else (rule.get("name") or ""),
        )
        prefix = tag or eq_id or "site"
        for d in build_defs(rule, prefix, base, defaults,
                            lambda p, t=tag, e=place.equipment: resolve_path(tags, p, t, e)):
            rs.defs[d.id] = d
            if kind == "limit":
                idx = rs.limit_tags.setdefault(tag, len(rs.limit_tags))
                lim_tag.append(idx)
                lim_limit.append(d.limit)
                lim_sign.append(d.direction)
                lim_db.append(d.deadband)
                rs.limit_alarms.append(d.id)
                rs.watched.add(tag)
            elif kind in ("digital", "rate", "stale"):
                rs.per_tag[tag].append(d)
                rs.watched.add(tag)
            elif kind == "quality":
                rs.comm_by_tag[tag].append(d.id)
                rs.comm_members[d.id].add(tag)
                rs.watched.add(tag)
            elif kind == "deviation":
                rs.deviation_by_input[tag].append(d)
                rs.watched.add(tag)
                if isinstance(d.params["setpoint"], str):
                    rs.deviation_by_input[d.params["setpoint"]].append(d)
                    rs.watched.add(d.params["setpoint"])
            elif kind == "expression":
                rs.expressions[d.id] = parse(rule["expression"])
                for p in d.params["inputs"].values():
                    rs.expression_by_input[p].append(d)
                    rs.watched.add(p)
    if section["comm_alarms"]:
        _add_device_comm_alarms(rs, tags, devices, defaults)
    rs.limits = LimitTable(len(rs.limit_tags), lim_tag, lim_limit, lim_sign, lim_db)
    _add_groups(rs, section, equipment)
    rs.path_info = {p: (rs.limit_tags.get(p), tuple(rs.comm_by_tag.get(p, ())), tuple(rs.per_tag.get(p, ())),
                        tuple(rs.deviation_by_input.get(p, ())), tuple(rs.expression_by_input.get(p, ())),
                        tuple(rs.group_by_input.get(p, ()))) for p in rs.watched}
    return rs


def build_defs(rule: Mapping[str, Any], prefix: str, base: dict, defaults: Mapping[str, Any],
               resolve) -> list[AlarmDef]:
    """The alarm definitions of one rule (one per limit level): ids ``<prefix>:<name>``.

    ``base`` holds the fields every kind shares (tag, owner, delays, ...);
    ``resolve(path)`` turns a setpoint or input path as written into a tag path.
    """
    kind = rule["type"]
    tag = base["tag"]
    if kind == "limit":
        out = []
        for lvl in LIMIT_LEVELS:
            level = rule.get(lvl)
            if level is None:
                continue
            lim = level["limit"] if isinstance(level, Mapping) else level
            lvl_pri = level.get("priority") if isinstance(level, Mapping) else None
            lvl_msg = level.get("message") if isinstance(level, Mapping) else None
            name = f"{rule['name']}_{lvl.upper()}" if rule.get("name") else lvl.upper()
            out.append(AlarmDef(id=f"{prefix}:{name}", name=name,
                                priority=lvl_pri or rule.get("priority") or _LEVEL_PRIORITY.get(lvl)
                                or defaults["priority"],
                                message=lvl_msg or rule.get("message") or DEFAULT_MESSAGES["limit"],
                                limit=float(lim), direction=_LEVEL_SIGN[lvl], params={"level": lvl.upper()},
                                **base))
        return out
    name = rule.get("name") or kind
    params: dict[str, Any] = {}
    limit: Any = None
    on_delay = base["on_delay"]
    if kind == "digital":
        limit = True if rule.get("state") is None else rule["state"]
    elif kind == "deviation":
        sp = rule["setpoint"]
        params["setpoint"] = resolve(sp) if isinstance(sp, str) else float(sp)
        params["high"], params["low"] = rule.get("high"), rule.get("low")
        limit = rule.get("high") if rule.get("high") is not None else rule.get("low")
    elif kind == "rate":
        limit = float(rule["rate"])
        params["per"], params["direction"] = rule["per"], rule["direction"]
    elif kind in ("quality", "stale"):
        limit = float(rule["after"])
        if kind == "quality":
            on_delay = limit
    elif kind == "expression":
        inputs = {var: resolve(p) for var, p in rule["inputs"].items()}
        if tag is not None and "value" not in inputs:
            inputs["value"] = tag
        params["inputs"] = inputs
    return [AlarmDef(id=f"{prefix}:{name}", name=name,
                     priority=rule.get("priority") or (defaults["comm_priority"] if kind == "quality"
                                                       else defaults["priority"]),
                     message=rule.get("message") or DEFAULT_MESSAGES[kind], limit=limit, params=params,
                     **{**base, "on_delay": on_delay})]


def _add_device_comm_alarms(rs: RuleSet, tags, devices, defaults) -> None:
    alarmed = {d.tag for d in rs.defs.values() if d.tag and d.rule_type != "quality"}
    for path in sorted(alarmed):
        dev = tags[path].device
        if not dev or dev not in devices or devices[dev].protocol == "internal" or not devices[dev].enabled:
            continue  # a disabled device is not polled: its silence is intended, not a fault
        aid = f"comm:{dev}"
        if aid not in rs.defs:
            rs.defs[aid] = AlarmDef(id=aid, rule_type="quality", name="COMM", priority=defaults["comm_priority"],
                                    tag=None, building=devices[dev].building, on_delay=defaults["comm_after"],
                                    message=f"Communication lost: device {dev}", limit=defaults["comm_after"],
                                    description=f"device {dev}", params={"device": dev})
        rs.comm_by_tag[path].append(aid)
        rs.comm_members[aid].add(path)


def _add_groups(rs: RuleSet, section, equipment) -> None:
    for name, cfg in section["suppression"].items():
        group = SuppressionGroup(name, parse(cfg["when"]), dict(cfg["inputs"]), cfg["delay"],
                                 patterns=tuple(compile_pattern(p) for p in cfg["alarms"]),
                                 equipment=frozenset(cfg["equipment"]))
        for d in rs.defs.values():
            if group.covers(d):
                group.members.add(d.id)
        rs.groups[name] = group
        for p in group.inputs.values():
            rs.group_by_input[p].append(name)
            rs.watched.add(p)


def _pick(value, default):
    return default if value is None else value


def limit_arrays(rs: RuleSet) -> dict[str, np.ndarray]:
    """The limit table's columns (for the benchmark's per-rule baseline)."""
    t = rs.limits
    return {"tag_idx": t.tag_idx, "s_limit": t.s_limit, "s_keep": t.s_keep, "signs": t.signs}
