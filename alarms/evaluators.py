"""Turning a batch of tag changes into alarm conditions.

Limit rules go to the vectorized table in one call per batch; the other kinds
are few per tag and are evaluated only for the tags that changed. A Bad-quality
sample never raises or clears a process alarm: it freezes the tag's process
conditions and drives the communication alarms instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tagdb.values import TagValue, datetime_to_ns

from .expr import Unknown
from .model import AlarmDef, AlarmRecord

if TYPE_CHECKING:
    from .engine import AlarmEngine


_BAD = 0x80000000


class Evaluators:
    """Per-kind evaluation state (last values, bad tags, stale and rate timers, groups)."""

    def __init__(self, engine: "AlarmEngine") -> None:
        self.engine = engine
        self.rules = engine.rules
        self.clock = engine.clock
        self.values: dict[str, TagValue] = {}
        self.bad: dict[str, set[str]] = {aid: set() for aid in self.rules.comm_members}
        self._stale_calls: dict[str, Any] = {}
        self._rate_calls: dict[str, Any] = {}
        self.group_active: dict[str, bool] = {}
        self._group_calls: dict[str, Any] = {}
        self.groups_of: dict[str, list[str]] = {}
        for name, g in self.rules.groups.items():
            for aid in g.members:
                self.groups_of.setdefault(aid, []).append(name)

    def start(self) -> None:
        """Arm stale timers: a tag that never changes after start-up goes stale too."""
        for defs in self.rules.per_tag.values():
            for d in defs:
                if d.rule_type == "stale" and d.id not in self._stale_calls:
                    self._arm_stale(d)

    def stop(self) -> None:
        """Cancel every timer."""
        for calls in (self._stale_calls, self._rate_calls, self._group_calls):
            for call in calls.values():
                if call.active():
                    call.cancel()
            calls.clear()

    def seed(self, rec: AlarmRecord) -> None:
        """Restore per-kind state after a restart.

        A restored suppressed alarm marks its groups active, so the first input
        value saying "no longer suppress" releases it instead of being ignored.
        """
        if rec.suppressed:
            for name in self.groups_of.get(rec.id, ()):
                self.group_active[name] = True

    # ------------------------------------------------------------------ batch

    def process(self, batch: Sequence[TagValue]) -> None:
        """Evaluate one batch of changes."""
        rules, engine = self.rules, self.engine
        info_of = rules.path_info
        attach = engine.system.lookup
        last = self.values
        lim_vals: dict[int, Any] = {}
        deviations: dict[str, AlarmDef] = {}
        expressions: dict[str, AlarmDef] = {}
        groups: set[str] = set()
        for tv in batch:
            path = tv.path
            info = info_of.get(path)
            if info is None:
                # A run-time _system/ tag seen for the first time may match a system rule.
                if not path.startswith("_system/") or (info := attach(path)) is None:
                    continue
            lim_idx, comms, simple, devs, exprs, grps = info
            prev = last.get(path)
            last[path] = tv
            bad = tv.quality.code >= _BAD   # the OPC UA severity bits say Bad
            for cid in comms:
                members = self.bad[cid]
                if bad != (path in members):      # only a change of this tag's quality matters
                    (members.add if bad else members.discard)(path)
                    engine.condition(cid, bool(members), "Bad" if members else "Good")
            for d in devs:
                deviations[d.id] = d
            for d in exprs:
                expressions[d.id] = d
            if grps:
                groups.update(grps)
            if bad:
                continue  # process conditions stay as they were while the input is Bad
            if lim_idx is not None:
                v = tv.value
                if (type(v) is float or type(v) is int or _is_number(v)) and math.isfinite(v):
                    lim_vals[lim_idx] = v
            for d in simple:
                self._simple(d, tv, prev)
        if lim_vals:
            idx = np.fromiter(lim_vals.keys(), dtype=np.int64, count=len(lim_vals))
            vals = np.fromiter((float(v) for v in lim_vals.values()), dtype=np.float64, count=len(lim_vals))
            engine.evaluate_limits(idx, vals, lim_vals)
        for d in deviations.values():
            self._deviation(d)
        for d in expressions.values():
            self._expression(d)
        for name in groups:
            self._group(name)

    # ------------------------------------------------------------------ kinds

    def _simple(self, d: AlarmDef, tv: TagValue, prev: TagValue | None) -> None:
        kind = d.rule_type
        if kind == "digital":
            self.engine.condition(d.id, _same(tv.value, d.limit), tv.value)
        elif kind == "limit":
            self._limit(d, tv.value)
        elif kind == "stale":
            self._arm_stale(d)
            self.engine.condition(d.id, False, tv.value)
        elif kind == "rate":
            self._rate(d, tv, prev)

    def _limit(self, d: AlarmDef, v: Any) -> None:
        """A limit rule of a run-time tag (the site's own are in the vectorized table): same hysteresis."""
        if not _is_number(v) or not math.isfinite(v):
            return
        s_limit = d.direction * d.limit
        hold = self.engine.raw_condition(d.id)
        self.engine.condition(d.id, d.direction * float(v) > (s_limit - d.deadband if hold else s_limit), v)

    def _arm_stale(self, d: AlarmDef) -> None:
        call = self._stale_calls.get(d.id)
        if call is not None and call.active():
            call.reset(d.limit)
        else:
            self._stale_calls[d.id] = self.clock.callLater(d.limit, self._stale_fire, d)

    def _stale_fire(self, d: AlarmDef) -> None:
        self._stale_calls.pop(d.id, None)
        tv = self.values.get(d.tag)
        if tv is not None and tv.quality.is_bad:
            return  # a Bad input is a communication problem, not a stale process value
        self.engine.condition(d.id, True, tv.value if tv else None)

    def _rate(self, d: AlarmDef, tv: TagValue, prev: TagValue | None) -> None:
        if prev is None or prev.quality.is_bad or not _is_number(tv.value) or not _is_number(prev.value):
            return
        dt = (datetime_to_ns(tv.source_ts) - datetime_to_ns(prev.source_ts)) / 1e9
        if dt <= 0:
            return
        per, direction = d.params["per"], d.params["direction"]
        rate = (float(tv.value) - float(prev.value)) / dt * per
        signed = {"rise": rate, "fall": -rate}.get(direction, abs(rate))
        hold = self.engine.raw_condition(d.id)
        threshold = d.limit - d.deadband if hold else d.limit
        active = signed > threshold
        self.engine.condition(d.id, active, round(rate, 6))
        call = self._rate_calls.pop(d.id, None)
        if call is not None and call.active():
            call.cancel()
        if active:
            # A value that stops changing sends no more samples: the rate is then zero.
            self._rate_calls[d.id] = self.clock.callLater(per, self.engine.condition, d.id, False, 0.0)

    def _number(self, path: str) -> float | None:
        tv = self.values.get(path)
        if tv is None or tv.quality.is_bad or not _is_number(tv.value):
            return None
        return float(tv.value)

    def _deviation(self, d: AlarmDef) -> None:
        v = self._number(d.tag)
        sp = d.params["setpoint"]
        spv = self._number(sp) if isinstance(sp, str) else sp
        if v is None or spv is None:
            return
        dev = v - spv
        hold = self.engine.raw_condition(d.id)
        db = d.deadband if hold else 0.0
        high, low = d.params["high"], d.params["low"]
        active = (high is not None and dev > high - db) or (low is not None and dev < -(low - db))
        self.engine.condition(d.id, bool(active), v)

    def _inputs(self, inputs: dict[str, str]) -> tuple[dict, dict]:
        values, good = {}, {}
        for var, path in inputs.items():
            tv = self.values.get(path)
            if tv is not None:
                values[var] = tv.value
                good[var] = not tv.quality.is_bad and tv.value is not None
        return values, good

    def _expression(self, d: AlarmDef) -> None:
        values, good = self._inputs(d.params["inputs"])
        try:
            result = bool(self.rules.expressions[d.id].evaluate(values, good))
        except (Unknown, TypeError, ValueError, ArithmeticError):
            return  # an input is Bad or missing: the condition stays as it was
        shown = values.get("value") if "value" in values else result
        self.engine.condition(d.id, result, shown)

    def _group(self, name: str) -> None:
        g = self.rules.groups[name]
        values, good = self._inputs(g.inputs)
        try:
            on = bool(g.when.evaluate(values, good))
        except (Unknown, TypeError, ValueError, ArithmeticError):
            return
        call = self._group_calls.pop(name, None)
        if call is not None and call.active():
            call.cancel()
        if on or g.delay <= 0:
            self._set_group(name, on)
        elif self.group_active.get(name):
            # Keep suppressing a little after, e.g. while a restarted AHU reaches its setpoint.
            self._group_calls[name] = self.clock.callLater(g.delay, self._set_group, name, False)

    def _set_group(self, name: str, on: bool) -> None:
        self._group_calls.pop(name, None)
        if self.group_active.get(name, False) == on:
            return
        self.group_active[name] = on
        for aid in self.rules.groups[name].members:
            suppressed = any(self.group_active.get(g, False) for g in self.groups_of.get(aid, ()))
            self.engine.set_suppressed(aid, suppressed, f"suppression group {name} {'on' if on else 'off'}")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _same(value: Any, state: Any) -> bool:
    if isinstance(state, bool) or isinstance(value, bool):
        return bool(value) == bool(state) if isinstance(value, (bool, int, float)) else False
    return value == state
