"""Telemetry-verified closure: alarm back to normal and key values healthy for a configured time.

:class:`Telemetry` reads the live tag database and the alarm engine (both in
memory, on the reactor thread). The scheduler calls :meth:`Telemetry.sweep`
each tick: for every completed alarm-sourced order it records in the order the
moment the equipment became healthy (``healthy_since``) and clears it when the
equipment turns unhealthy again, so verification can require an unbroken
healthy period. Downtime comes from the tag history when a historian runs
(the last return to healthy values after the fault), else from
``healthy_since``; MTTR and MTBF per asset follow from the verified orders.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagdb.patterns import compile_pattern

from .models import WorkOrder

log = logging.getLogger(__name__)


class Telemetry:
    """Alarm rules of the ``service`` section plus the live health checks of their equipment."""

    def __init__(self, rules: list[dict], tags: Any = None, alarms: Any = None, history: Any = None) -> None:
        self.rules = [(tuple(compile_pattern(p) for p in r["alarms"]), r) for r in rules]
        self.tags, self.alarms, self.history = tags, alarms, history

    def rule_for_alarm(self, alarm_id: str) -> dict | None:
        """The first configured rule whose patterns match an alarm id."""
        for matchers, rule in self.rules:
            if any(m(alarm_id) for m in matchers):
                return rule
        return None

    def rule_for(self, order: Any) -> dict | None:
        """The rule that opened an alarm-sourced order."""
        for aid in order.alarm_ids or []:
            rule = self.rule_for_alarm(aid)
            if rule is not None:
                return rule
        return None

    def healthy_for(self, order: Any) -> float | None:
        """Seconds of unbroken health needed before verification (None: no telemetry gate)."""
        if order.source != "alarm":
            return None
        rule = self.rule_for(order)
        return float(rule["healthy_for"]) if rule else 0.0

    def _path(self, order: Any, tag: str) -> str:
        return tag if "/" in tag else f"{order.equipment_id}/{tag}"

    @staticmethod
    def _value_ok(check: dict, value: Any) -> bool:
        if check.get("equals") is not None and value != check["equals"]:
            return False
        if not isinstance(value, (int, float)) and (check.get("min") is not None or check.get("max") is not None):
            return False
        if check.get("min") is not None and value < check["min"]:
            return False
        if check.get("max") is not None and value > check["max"]:
            return False
        return True

    def live(self, order: Any) -> tuple[bool, str]:
        """(healthy now?, why not) for an alarm-sourced order."""
        if order.source != "alarm":
            return True, ""
        if self.alarms is not None:
            for aid in order.alarm_ids or []:
                try:
                    rec = self.alarms.get(aid)
                except Exception:
                    continue          # alarm removed from the configuration: nothing to wait for
                if rec.active or rec.latched:
                    return False, f"alarm {aid} has not returned to normal ({rec.state.value})"
        rule = self.rule_for(order) or {}
        for check in rule.get("healthy") or []:
            path = self._path(order, check["tag"])
            if self.tags is None:
                return False, "no live tag database"
            try:
                tv = self.tags.get(path)
            except KeyError:
                return False, f"unknown tag {path}"
            if not tv.quality.is_good:
                return False, f"{path} quality is {tv.quality}"
            if not self._value_ok(check, tv.value):
                return False, f"{path} = {tv.value!r} is not healthy"
        return True, ""

    def sweep_tx(self, s: Session, now: datetime, verdicts: dict[int, tuple[bool, str]]) -> dict:
        """Set or clear ``healthy_since`` of the completed alarm orders from the live verdicts."""
        changed = {"healthy": 0, "unhealthy": 0}
        for o in s.scalars(select(WorkOrder).where(WorkOrder.id.in_(sorted(verdicts)))):
            ok = verdicts[o.id][0]
            if ok and o.healthy_since is None:
                o.healthy_since = now
                changed["healthy"] += 1
            elif not ok and o.healthy_since is not None:
                o.healthy_since = None
                changed["unhealthy"] += 1
        return changed

    async def downtime_s(self, order: Any, now: datetime) -> float | None:
        """Fault start to the last return of the key values to health, from the tag history."""
        rule = self.rule_for(order) or {}
        checks = rule.get("healthy") or []
        if self.history is None or not checks or order.fault_at is None:
            return None
        path = self._path(order, checks[0]["tag"])
        try:
            points = (await self.history.raw([path], order.fault_at, now)).get(path) or []
        except Exception as exc:
            log.debug("downtime of %s from history unavailable: %s", order.number, exc)
            return None
        restored = None
        prev_ok = None
        for p in points:
            ok = bool(getattr(p.quality, "is_good", True)) and self._value_ok(checks[0], p.value)
            if ok and prev_ok is False:
                restored = p.ts
            prev_ok = ok
        if restored is None:
            return None
        return round((restored - order.fault_at).total_seconds(), 1)


def reliability(s: Session, asset_id: int, now: datetime, window_days: int = 365) -> dict:
    """MTTR and MTBF (hours) of an asset over a window, from its verified alarm and repair orders."""
    start = now - timedelta(days=window_days)
    rows = list(s.scalars(select(WorkOrder).where(
        WorkOrder.asset_id == asset_id, WorkOrder.kind.in_(("repair", "emergency")),
        WorkOrder.fault_at.is_not(None), WorkOrder.fault_at >= start, WorkOrder.parent_id.is_(None))
        .order_by(WorkOrder.fault_at)))
    failures = len(rows)
    repaired = [o.downtime_s for o in rows if o.downtime_s is not None]
    downtime = sum(repaired)
    first = rows[0].fault_at if rows else None
    period = (now - first).total_seconds() if first else window_days * 86400.0
    mttr = downtime / len(repaired) / 3600 if repaired else None
    mtbf = (period - downtime) / failures / 3600 if failures else None
    return {"asset_id": asset_id, "failures": failures, "downtime_hours": round(downtime / 3600, 3),
            "mttr_hours": round(mttr, 3) if mttr is not None else None,
            "mtbf_hours": round(mtbf, 3) if mtbf is not None else None,
            "since": first.isoformat() if first else None, "window_days": window_days}
