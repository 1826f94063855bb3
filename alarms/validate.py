"""Whole-site checks of the alarm configuration and the walk over every configured rule.

Rules come from three places: a tag's ``alarms:`` list, an equipment
template's ``alarms:`` list (paths relative to the equipment), and the
``alarms.rules`` list of the section (a ``tag`` that may be a glob).
:func:`iter_rules` yields each of them with the tag(s) it applies to, so the
validator and the engine's rule compiler agree on what a rule means.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tagdb.errors import PatternError
from tagdb.patterns import compile_pattern, is_wildcard
from tagdb.site.errors import ConfigError, Loc
from tagdb.site.located import LDict, LList, load_yaml

from .errors import ExpressionError
from .expr import parse
from .schema import DEFAULT_PRIORITIES, LIMIT_LEVELS, section_defaults

SYSTEM_PREFIX = "_system/"
TEMPLATE_FIELDS = frozenset({"tag", "name", "value", "limit", "units", "description", "equipment",
                             "area", "priority", "level", "state", "alarm"})


@dataclass(frozen=True)
class RuleSite:
    """One configured rule in its place: the rule, its tag (None for a tag-less expression)."""

    rule: Mapping[str, Any]
    tag: str | None
    equipment: str | None
    loc: Loc
    field: str


def resolve_path(paths: Mapping[str, Any], path: str, tag: str | None, equipment: str | None) -> str | None:
    """An input path as written, or relative to the rule's tag folder or equipment; None if unknown."""
    candidates = [path]
    if tag and "/" in tag:
        candidates.append(f"{tag.rsplit('/', 1)[0]}/{path}")
    if equipment:
        candidates.append(f"{equipment}/{path}")
    for cand in candidates:
        if cand in paths:
            return cand
    return None


class SectionLocator:
    """File and line of a field of the ``alarms:`` section (the clean model has no lines).

    The section's file is re-read with the located YAML loader, so an error in
    ``alarms.rules[3].tag`` points at that very line.
    """

    def __init__(self, site) -> None:
        self.tree: Any = None
        self.file = site.files[0] if site.files else "<site>"
        for name in site.files:
            if not str(name).endswith((".yaml", ".yml")):
                continue
            try:
                data, _ = load_yaml(Path(name).read_text(encoding="utf-8"), str(name))
            except OSError:
                continue
            if isinstance(data, dict) and "alarms" in data:
                self.tree, self.file = data, str(name)
                break

    def __call__(self, field: str) -> Loc:
        """The most precise known location of ``field`` (e.g. ``alarms.pipelines.p.steps[1].roster``)."""
        node, loc = self.tree, Loc(self.file)
        for token in re.findall(r"[^.\[\]]+|\[\d+\]", field):
            if isinstance(node, LList) and token.startswith("["):
                i = int(token[1:-1])
                if i >= len(node):
                    break
                loc, node = node.loc_of(i), node[i]
            elif isinstance(node, LDict) and token in node:
                loc, node = node.loc_of(token), node[token]
            else:
                break
        return loc


def iter_rules(site) -> Iterator[tuple[RuleSite, list[ConfigError]]]:
    """Every rule of the site with the errors found while placing it (unknown tag, no match)."""
    paths = {t.path: t for t in site.tags}
    for t in site.tags:
        for i, rule in enumerate(t.alarms):
            yield RuleSite(rule, t.path, t.equipment, t.loc, f"tags[{t.path}].alarms[{i}]"), []
    for eq in site.equipment:
        for i, rule in enumerate(eq.alarms):
            field = f"equipment[{eq.id}].alarms[{i}]"
            tag = rule.get("tag")
            if tag is None:
                yield RuleSite(rule, None, eq.id, eq.loc, field), []
                continue
            full = resolve_path(paths, tag, None, eq.id)
            if full is None:
                yield RuleSite(rule, None, eq.id, eq.loc, field), [
                    ConfigError(eq.loc, f"{field}.tag", f"equipment {eq.id} has no tag {tag!r}")]
                continue
            yield RuleSite(rule, full, eq.id, eq.loc, field), []
    section = site.section("alarms") or {}
    locate = SectionLocator(site) if section.get("rules") else None
    for i, rule in enumerate(section.get("rules") or []):
        field = f"alarms.rules[{i}]"
        loc = locate(field)
        tag = rule.get("tag")
        if tag is None:
            yield RuleSite(rule, None, rule.get("equipment"), loc, field), []
            continue
        if is_system(tag):
            continue  # matched against run-time tags by the engine (iter_system_rules)
        if is_wildcard(tag):
            match = compile_pattern(tag)
            hits = [p for p in paths if match(p)]
        else:
            hits = [tag] if tag in paths else []
        if not hits:
            yield RuleSite(rule, None, None, loc, field), [
                ConfigError(locate(f"{field}.tag"), f"{field}.tag", f"{tag!r} matches no tag of the site")]
            continue
        for p in hits:
            yield RuleSite(rule, p, paths[p].equipment, loc, field), []


def is_system(tag: str) -> bool:
    """True for a path or pattern of run-time ``_system/...`` tags (they exist only once running)."""
    return tag.startswith(SYSTEM_PREFIX)


def iter_system_rules(site) -> Iterator[tuple[Mapping[str, Any], str]]:
    """The ``alarms.rules`` entries whose ``tag`` is a ``_system/`` path or glob, with their field."""
    section = site.section("alarms") or {}
    for i, rule in enumerate(section.get("rules") or []):
        if rule.get("tag") and is_system(rule["tag"]):
            yield rule, f"alarms.rules[{i}]"


def system_rule_problems(rule: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What a rule on ``_system/`` tags may not do: (field suffix, message) pairs.

    Such a rule reads only its own run-time tag, so a deviation (setpoint tag)
    or an expression with other inputs has nothing it could be checked against.
    """
    out: list[tuple[str, str]] = []
    tag = rule.get("tag") or ""
    if not is_system(tag):
        out.append((".tag", f"{tag!r} is not a {SYSTEM_PREFIX} path or pattern"))
    else:
        try:
            compile_pattern(tag)
        except PatternError as exc:
            out.append((".tag", str(exc)))
    if rule.get("type") == "deviation":
        out.append((".type", f"a deviation rule cannot watch a {SYSTEM_PREFIX} tag (its setpoint "
                             "would be another tag): use a limit rule"))
    if rule.get("type") == "expression" and rule.get("inputs"):
        out.append((".inputs", f"an expression on a {SYSTEM_PREFIX} tag reads only its own value "
                               "(`value`): inputs are not supported"))
    return out


def check_system_rule(rule: Mapping[str, Any], priorities, groups) -> list[tuple[str, str]]:
    """Every problem of one rule on ``_system/`` tags (used by the validator and the engine's API)."""
    place = RuleSite({**rule, "inputs": {}}, rule.get("tag"), None, Loc("<alarms>"), "")
    return system_rule_problems(rule) + _check_rule(place.rule, place, {}, priorities, groups)


def validate_site(site) -> list[ConfigError]:
    """Every cross-reference problem of the alarm configuration."""
    errors: list[ConfigError] = []
    section = section_defaults(site.section("alarms"))
    priorities = set(section.get("priorities") or DEFAULT_PRIORITIES)
    groups = set(section["suppression"])
    paths = {t.path: t for t in site.tags}
    equipment = {e.id for e in site.equipment}
    seen: dict[str, str] = {}
    locate = SectionLocator(site)
    where = None

    def err(loc: Loc | None, field: str, msg: str) -> None:
        """Record an error, located in the alarms: section when no location is given."""
        errors.append(ConfigError(loc if loc is not None else locate(field), field, msg))

    for key in ("priority", "comm_priority"):
        if section["defaults"][key] not in priorities:
            err(where, f"alarms.defaults.{key}", f"unknown priority {section['defaults'][key]!r}")
    reported_fields: set[str] = set()
    for rs, placing in iter_rules(site):
        errors += placing
        if placing or rs.field in reported_fields:
            continue
        rule, loc, field = rs.rule, rs.loc, rs.field
        problems = _check_rule(rule, rs, paths, priorities, groups)
        if problems and rs.tag is not None and field.startswith("alarms.rules"):
            reported_fields.add(field)  # a glob rule: report once, not once per matching tag
        for f, msg in problems:
            err(None if field.startswith("alarms.") else loc, f"{field}{f}", msg)
        name = _alarm_names(rule, rs)
        for n in name:
            if n in seen and seen[n] != field:
                err(loc, field, f"alarm {n!r} is defined twice (also by {seen[n]}); give one a name:")
            seen.setdefault(n, field)
    for rule, field in iter_system_rules(site):
        for f, msg in check_system_rule(rule, priorities, groups):
            err(None, f"{field}{f}", msg)
        for n in _alarm_names(rule, RuleSite(rule, rule["tag"], None, Loc(""), field)):
            if n in seen and seen[n] != field:
                err(None, field, f"alarm {n!r} is defined twice (also by {seen[n]}); give one a name:")
            seen.setdefault(n, field)
    for gname, group in section["suppression"].items():
        f = f"alarms.suppression.{gname}"
        for var, p in group["inputs"].items():
            if p not in paths:
                err(where, f"{f}.inputs.{var}", f"unknown tag {p!r}")
        for e in group["equipment"]:
            if e not in equipment:
                err(where, f"{f}.equipment", f"unknown equipment {e!r}")
    contacts = section["contacts"]
    for rname, roster in section["rosters"].items():
        f = f"alarms.rosters.{rname}"
        tz = roster.get("timezone")
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                err(where, f"{f}.timezone", f"unknown timezone {tz!r}")
        for i, shift in enumerate(roster["shifts"]):
            for c in shift["on_call"]:
                if c not in contacts:
                    err(where, f"{f}.shifts[{i}].on_call", f"unknown contact {c!r}")
        for c in roster["default"]:
            if c not in contacts:
                err(where, f"{f}.default", f"unknown contact {c!r}")
    for pname, pipe in section["pipelines"].items():
        f = f"alarms.pipelines.{pname}"
        for p in pipe["priorities"]:
            if p not in priorities:
                err(where, f"{f}.priorities", f"unknown priority {p!r}")
        for i, step in enumerate(pipe["steps"]):
            if step["roster"] not in section["rosters"]:
                err(where, f"{f}.steps[{i}].roster", f"unknown roster {step['roster']!r}")
            for ch in step["channels"]:
                if ch not in section["channels"]:
                    err(where, f"{f}.steps[{i}].channels", f"unknown channel {ch!r}")
                    continue
                kind = section["channels"][ch]["type"]
                need = {"email": "email", "sms": "phone"}.get(kind)
                for c in _roster_contacts(section["rosters"].get(step["roster"]) or {}):
                    if need and c in contacts and not contacts[c].get(need):
                        err(where, f"{f}.steps[{i}].channels",
                            f"contact {c!r} of roster {step['roster']!r} has no {need} for channel {ch!r}")
    return errors


def _roster_contacts(roster: Mapping[str, Any]) -> set[str]:
    out = set(roster.get("default") or [])
    for shift in roster.get("shifts") or []:
        out.update(shift["on_call"])
    return out


def _alarm_names(rule: Mapping[str, Any], rs: RuleSite) -> list[str]:
    owner = rs.tag or rs.equipment or "site"
    if rule["type"] == "limit":
        return [f"{owner}:{rule.get('name') or ''}{lvl.upper()}" for lvl in LIMIT_LEVELS if rule.get(lvl) is not None]
    return [f"{owner}:{rule.get('name') or rule['type']}"]


def _check_rule(rule, rs: RuleSite, paths, priorities, groups) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    spec = paths.get(rs.tag) if rs.tag else None
    kind = rule["type"]
    if rule.get("priority") and rule["priority"] not in priorities:
        out.append((".priority", f"unknown priority {rule['priority']!r} (known: {', '.join(sorted(priorities))})"))
    for lvl in LIMIT_LEVELS:
        level = rule.get(lvl)
        if isinstance(level, Mapping) and level.get("priority") and level["priority"] not in priorities:
            out.append((f".{lvl}.priority", f"unknown priority {level['priority']!r}"))
    for g in rule.get("suppress") or []:
        if g not in groups:
            out.append((".suppress", f"unknown suppression group {g!r}"))
    if kind in ("limit", "deviation", "rate") and spec is not None and not spec.is_numeric:
        out.append((".type", f"a {kind} rule needs a numeric tag; {spec.path} is {spec.data_type}"))
    if kind == "limit" and spec is not None and spec.data_type == "bool":
        out.append((".type", f"a limit rule on the bool tag {spec.path}: use a digital rule"))
    if kind == "deviation" and isinstance(rule.get("setpoint"), str):
        if resolve_path(paths, rule["setpoint"], rs.tag, rs.equipment) is None:
            out.append((".setpoint", f"unknown setpoint tag {rule['setpoint']!r}"))
    if kind == "expression":
        for var, p in (rule.get("inputs") or {}).items():
            if resolve_path(paths, p, rs.tag, rs.equipment) is None:
                out.append((f".inputs.{var}", f"unknown tag {p!r}"))
        try:
            names = parse(rule["expression"]).names
        except ExpressionError as exc:
            out.append((".expression", str(exc)))
        else:
            if rs.tag is None and "value" in names and "value" not in (rule.get("inputs") or {}):
                out.append((".expression", "'value' needs a tag; bind the tag under inputs"))
    if rs.equipment and rule.get("equipment") is None and rs.tag is None and kind != "expression":
        out.append((".tag", "is required"))
    if rule.get("message"):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(rule["message"]) if f}
        except ValueError as exc:
            out.append((".message", f"bad template: {exc}"))
        else:
            unknown = sorted(fields - TEMPLATE_FIELDS)
            if unknown:
                out.append((".message", f"unknown placeholder(s) {', '.join(unknown)} "
                                        f"(known: {', '.join(sorted(TEMPLATE_FIELDS))})"))
    return out
