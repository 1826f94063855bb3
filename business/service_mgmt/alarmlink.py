"""Alarm transitions → work orders: one fault, one order.

Subscribed to :class:`alarms.events.AlarmTransition` on ``ctx.events``. When an
alarm matching a ``service.alarm_rules`` entry activates on equipment linked to
an asset, the equipment's open alarm order is reused (the alarm id is added to
it) or a new one is opened and assigned. Transitions are handled one at a time
so two alarms of one fault activating together still make one order.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from twisted.internet.defer import Deferred, DeferredLock

from ..models import Asset
from .workorders import add_event, open_alarm_order

log = logging.getLogger(__name__)
PRIORITY = {"critical": "critical", "high": "high", "medium": "normal", "low": "low"}


class AlarmLink:
    """Opens and deduplicates alarm-sourced work orders."""

    def __init__(self, orders: Any, telemetry: Any) -> None:
        self.orders, self.telemetry = orders, telemetry
        self._lock = DeferredLock()
        self.pending: list[Deferred] = []
        self.errors = 0

    def __call__(self, tr: Any) -> None:
        """EventBus handler (reactor thread): queue activations that a rule wants."""
        if getattr(tr.kind, "value", tr.kind) != "activate" or not tr.equipment:
            return
        rule = self.telemetry.rule_for_alarm(tr.alarm_id)
        if rule is None:
            return
        d = self._lock.run(lambda: Deferred.fromCoroutine(self._open(tr, rule)))
        self.pending.append(d)
        d.addBoth(self._done, d)

    def _done(self, result, d):
        if d in self.pending:
            self.pending.remove(d)
        if hasattr(result, "getErrorMessage"):
            self.errors += 1
            log.error("work order for alarm not opened: %s", result.getTraceback())
        return None

    async def _open(self, tr: Any, rule: dict) -> dict | None:
        return await self.orders.run(self._open_tx, tr, rule)

    def _open_tx(self, s, tr: Any, rule: dict):
        now = self.orders.clock()
        asset = s.scalar(select(Asset).where(Asset.equipment_id == tr.equipment))
        if asset is None:
            log.warning("alarm %s: equipment %s has no asset; no work order opened", tr.alarm_id, tr.equipment)
            return None, []
        existing = open_alarm_order(s, tr.equipment)
        if existing is not None:
            if tr.alarm_id not in (existing.alarm_ids or []):
                existing.alarm_ids = list(existing.alarm_ids or []) + [tr.alarm_id]
            existing.healthy_since = None
            add_event(s, existing, now, "system", "alarm", existing.state, existing.state,
                      tr.message or tr.alarm_id, {"alarm_id": tr.alarm_id, "priority": tr.priority})
            s.flush()
            return {"id": existing.id, "deduplicated": True}, []
        body = {"kind": rule["kind"], "title": (tr.message or f"{tr.alarm_id} active")[:200],
                "description": f"Opened by alarm {tr.alarm_id} ({tr.priority}) at {tr.ts.isoformat()}",
                "asset_id": asset.id, "priority": rule.get("priority") or PRIORITY.get(tr.priority, "high")}
        if rule.get("skills") is not None:
            body["skills"] = list(rule["skills"])
        out, notices = self.orders.create_tx(s, None, body, source="alarm", alarm_ids=[tr.alarm_id],
                                             fault_at=tr.ts, now=now)
        return {"id": out["id"], "deduplicated": False}, notices
