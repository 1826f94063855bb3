"""Alarms on run-time ``_system/...`` tags, attached when the tags appear.

Components publish their own health as ``_system/<component>/...`` tags once
they run (a control loop's ``alarm``, the historian buffer's ``near_full``, a
device's ``connected``), so rules on them cannot be compiled with the site.
They come from two places:

* the site: ``alarms.rules`` entries whose ``tag`` is a ``_system/`` path or glob;
* components: ``ctx.provides["alarms"].define_system_alarm(tag, rule)`` for
  built-in defaults that need no site configuration. A component built before
  the alarm system (the historian) appends ``{"tag": ..., **rule}`` to
  ``ctx.provides["system_alarm_requests"]`` instead; the alarm component takes
  those when it is built and again when it starts.

The engine subscribes to every tag, tags added later included, so the first
value of a new ``_system/`` tag reaches :meth:`SystemRules.lookup`. It compiles
the matching rules for that tag, site rules first: a site rule with the same
alarm name overrides a component's default (e.g. to change its priority or
put it out of service with ``enabled: false``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Mapping, MutableMapping

from tagdb.patterns import compile_pattern
from tagdb.site.errors import ConfigError, Loc

from .errors import AlarmConfigError
from .expr import parse
from .model import AlarmDef
from .rules import build_defs
from .schema import SITE_RULE
from .validate import check_system_rule

if TYPE_CHECKING:
    from .engine import AlarmEngine

log = logging.getLogger(__name__)

#: ``ctx.provides`` key of rule requests from components built before the alarm system.
REQUESTS_KEY = "system_alarm_requests"
#: Rule kinds evaluated per tag (a run-time limit rule is not in the vectorized table).
_PER_TAG = ("limit", "digital", "rate", "stale")

_Rule = tuple[Callable[[str], bool], Mapping[str, Any], str]


class SystemRules:
    """The rules on ``_system/`` tags of one engine and the tags they were attached to."""

    def __init__(self, engine: "AlarmEngine") -> None:
        self.engine = engine
        self.rules = engine.rules
        self._site: list[_Rule] = [(compile_pattern(t), r, origin) for t, r, origin in self.rules.system_rules]
        self._components: list[_Rule] = []
        self._seen: set[str] = set()   # _system/ paths already matched, with or without rules

    def define(self, tag: str, rule: Mapping[str, Any], origin: str = "component") -> None:
        """Register a component's rule on the ``_system/`` path or glob ``tag``.

        ``rule`` has the fields of a tag rule (``type``, ``name``, ``priority``,
        ``message``, ...). Raises :class:`AlarmConfigError` naming ``origin``
        when the rule is malformed. Tags that already exist get the alarm now.
        """
        field = f"{origin}.alarms[{tag}]"
        loc = Loc(f"<{origin}>")
        clean, errors = SITE_RULE.check({**rule, "tag": tag}, field, loc)
        if not errors:
            errors = [ConfigError(loc, f"{field}{f}", msg)
                      for f, msg in check_system_rule(clean, self.rules.priorities, set(self.rules.groups))]
        if errors:
            raise AlarmConfigError(errors)
        entry = (compile_pattern(tag), clean, origin)
        self._components.append(entry)
        tags = self.engine.tags
        for path in sorted(self._seen):
            if entry[0](path) and self._attach(path, [entry]) and tags is not None and path in tags:
                self.engine.process([tags.get(path)])

    def lookup(self, path: str) -> tuple | None:
        """The evaluation entry of a ``_system/`` tag not yet known (None: no rule applies)."""
        if path in self._seen:
            return None
        self._seen.add(path)
        return self._attach(path, self._site + self._components)

    def _attach(self, path: str, candidates: list[_Rule]) -> tuple | None:
        rs = self.rules
        spec = self._spec(path)
        for match, rule, origin in candidates:
            if not match(path):
                continue
            base = dict(rule_type=rule["type"], tag=path, area=rule.get("area"), equipment=rule.get("equipment"),
                        building=None, latch=bool(rule.get("latch")),
                        on_delay=_pick(rule.get("on_delay"), rs.defaults["on_delay"]),
                        off_delay=_pick(rule.get("off_delay"), rs.defaults["off_delay"]),
                        deadband=_pick(rule.get("deadband"), rs.defaults["deadband"]),
                        enabled=rule.get("enabled", True), suppress=tuple(rule.get("suppress") or ()),
                        notify=rule.get("notify", True), units=getattr(spec, "units", "") or "",
                        description=getattr(spec, "description", "") or path)
            for d in build_defs(rule, path, base, rs.defaults, lambda p: p):
                if d.id in rs.defs:
                    log.debug("system alarm %s from %s: already defined, the first definition stays", d.id, origin)
                    continue
                self._register(d, rule)
                log.info("system alarm %s attached (%s, priority %s, from %s)", d.id, d.rule_type, d.priority, origin)
        if path not in rs.watched:
            return None
        rs.path_info[path] = entry = (None, tuple(rs.comm_by_tag.get(path, ())), tuple(rs.per_tag.get(path, ())),
                                      (), tuple(rs.expression_by_input.get(path, ())), ())
        return entry

    def _register(self, d: AlarmDef, rule: Mapping[str, Any]) -> None:
        rs, path = self.rules, d.tag
        rs.defs[d.id] = d
        if d.rule_type in _PER_TAG:
            rs.per_tag[path].append(d)
        elif d.rule_type == "quality":
            rs.comm_by_tag[path].append(d.id)
            rs.comm_members[d.id].add(path)
            self.engine.eval.bad[d.id] = set()
        elif d.rule_type == "expression":
            rs.expressions[d.id] = parse(rule["expression"])
            rs.expression_by_input[path].append(d)
        rs.watched.add(path)
        self.engine.add_alarm(d)

    def _spec(self, path: str) -> Any:
        tags = self.engine.tags
        try:
            return tags.spec(path) if tags is not None else None
        except KeyError:
            return None


def take_requests(provides: MutableMapping[str, Any], engine: "AlarmEngine") -> int:
    """Define the rules components left in ``provides[REQUESTS_KEY]``; returns how many."""
    requests = provides.setdefault(REQUESTS_KEY, [])
    n = 0
    while requests:
        item = dict(requests.pop(0))
        origin = item.pop("origin", "component")
        engine.define_system_alarm(item.pop("tag", ""), item, origin=origin)
        n += 1
    return n


def _pick(value, default):
    return default if value is None else value
