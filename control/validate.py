"""Site-wide checks of the ``control:`` section (tags exist and are writable, references resolve,
one control writer per tag: see :mod:`control.writers`)."""

from __future__ import annotations

from typing import Any, Mapping

from tagdb.patterns import compile_pattern, is_wildcard
from tagdb.site.errors import ConfigError, Loc

from .writers import check_writers

LOC_KEY = "_loc"
INTERNAL = "_system/"
INPUTS = "_system/control/inputs/"


def check_section(section: Mapping[str, Any], tags: Mapping[str, Any], files: tuple) -> list[ConfigError]:
    """Every cross-reference error of the control section."""
    errors: list[ConfigError] = []
    for name, inp in (section.get("inputs") or {}).items():
        initial = inp.get("initial")
        if initial is not None and not _fits(inp["type"], initial):
            errors.append(ConfigError(inp.get(LOC_KEY, Loc("<site>")), f"control.inputs.{name}.initial",
                                      f"{initial!r} is not a {inp['type']}"))
    default = Loc(files[0] if files else "<site>")

    def err(item: Mapping, field: str, msg: str) -> None:
        # control.<kind>.<name>.<key>...: point at the key's own line when known.
        parts = field.split(".")
        key = parts[3].split("[")[0] if len(parts) > 3 else None
        loc = (item.get("_key_locs") or {}).get(key) or item.get(LOC_KEY, default)
        errors.append(ConfigError(loc, field, msg))

    inputs = section.get("inputs") or {}

    def tag(item: Mapping, field: str, path: str | None, writable: bool = False) -> None:
        if path is not None and path.startswith(INPUTS):
            name = path[len(INPUTS):]
            if name not in inputs:
                err(item, field, f"unknown control input {name!r} (declare it under control.inputs)")
            return
        if path is None or path.startswith(INTERNAL):
            return  # control and system tags are created at run time
        spec = tags.get(path)
        if spec is None:
            err(item, field, f"unknown tag {path!r}")
        elif writable and not spec.writable:
            err(item, field, f"tag {path!r} is read-only (access: r)")

    def expr_tags(item: Mapping, field: str, expr: Any) -> None:
        for p in getattr(expr, "paths", ()):
            tag(item, field, p)

    loops = section.get("loops") or {}
    for name, loop in loops.items():
        f = f"control.loops.{name}"
        tag(loop, f"{f}.pv", loop["pv"])
        tag(loop, f"{f}.out", loop["out"], writable=True)
        tag(loop, f"{f}.sp_tag", loop["sp_tag"])
        expr_tags(loop, f"{f}.enable", loop["enable"])
        expr_tags(loop, f"{f}.track", loop["track"])
        master = loop["sp_loop"]
        if master is not None and master not in loops:
            err(loop, f"{f}.sp_loop", f"unknown loop {master!r} (known: {', '.join(sorted(loops))})")
        if loop["out"] is None and not any(o["sp_loop"] == name for o in loops.values()):
            err(loop, f"{f}.out", "is required unless another loop uses this one as sp_loop (cascade)")
    for name, loop in loops.items():
        seen, cur = {name}, loop["sp_loop"]
        while cur in loops:
            if cur in seen:
                err(loop, f"control.loops.{name}.sp_loop", f"cascade cycle through {cur!r}")
                break
            seen.add(cur)
            cur = loops[cur]["sp_loop"]
    calendars = section.get("calendars") or {}
    for name, cal in calendars.items():
        both = _days(cal["holidays"]) & _days(cal["workdays"])
        if both:
            err(cal, f"control.calendars.{name}", f"{sorted(both)[0]} is both a holiday and a make-up working day")
    for name, sch in (section.get("schedules") or {}).items():
        f = f"control.schedules.{name}"
        if sch["calendar"] is not None and sch["calendar"] not in calendars:
            err(sch, f"{f}.calendar", f"unknown calendar {sch['calendar']!r}")
        for i, t in enumerate(sch["targets"]):
            tag(sch, f"{f}.targets[{i}]", t, writable=True)
        if sch["daylight"]:
            tag(sch, f"{f}.daylight.lux", sch["daylight"]["lux"])
    for name, rule in (section.get("rules") or {}).items():
        f = f"control.rules.{name}"
        expr_tags(rule, f"{f}.when", rule["when"])
        for key in ("do", "else"):
            for i, step in enumerate(rule[key] or []):
                if step is None:
                    continue
                if "write" in step:
                    tag(rule, f"{f}.{key}[{i}].write", step["write"], writable=True)
                for sub in ("expr", "wait"):
                    expr_tags(rule, f"{f}.{key}[{i}].{sub}", step.get(sub))
    for name, lock in (section.get("interlocks") or {}).items():
        f = f"control.interlocks.{name}"
        for i, pattern in enumerate(lock["tags"]):
            if is_wildcard(pattern):
                if not any(compile_pattern(pattern)(p) for p in tags):
                    err(lock, f"{f}.tags[{i}]", f"pattern {pattern!r} matches no tag")
            else:
                tag(lock, f"{f}.tags[{i}]", pattern)
        expr_tags(lock, f"{f}.block", lock["block"])
    for name, rot in (section.get("rotations") or {}).items():
        f = f"control.rotations.{name}"
        names = [m["name"] for m in rot["members"]]
        if len(set(names)) != len(names):
            err(rot, f"{f}.members", "member names must be unique")
        for i, m in enumerate(rot["members"]):
            tag(rot, f"{f}.members[{i}].run_hours", m["run_hours"])
            tag(rot, f"{f}.members[{i}].command", m["command"], writable=True)
            expr_tags(rot, f"{f}.members[{i}].fault", m.get("fault"))
        expr_tags(rot, f"{f}.demand", rot["demand"])
    errors += check_writers(section, default)
    return errors


def _days(entries: list) -> set:
    from .calendar import expand_days
    return set(expand_days([e if isinstance(e, dict) else {"date": e} for e in entries]))


def _fits(kind: str, value: Any) -> bool:
    """True when ``value`` is of the control input type ``kind``."""
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return kind == "float" or float(value).is_integer()
