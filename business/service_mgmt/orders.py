"""The work-order service used by the REST API, the alarm link and the scheduler.

Each operation runs as one transaction off the reactor thread
(``Database.run_raw``); a transaction that loses the optimistic lock
(``StaleDataError``) or hits SQLite's busy snapshot is retried from a fresh
read, so the state machine always decides on the latest state. Notices are
computed in the transaction and enqueued afterwards on the reactor thread.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from tagdb.auth import Principal

from ..audit import jsonable
from ..scopes import unit_chain
from . import access, assign, ratings
from .errors import ConcurrentUpdate, PermissionDenied, ValidationError
from .models import WorkOrder, WorkOrderEvent, WorkOrderRating
from .notices import Notices, manager_notices, order_notices
from .schema import kind_defaults
from .states import SYSTEM_ACTIONS, allowed_actions
from .workorders import (add_cost, add_event, children, create, event_json, follow_parent, is_overdue, load,
                         order_cost, transition, validate_body)

log = logging.getLogger(__name__)
RETRIES = 8
PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}


def order_json(s, o: WorkOrder, now: datetime, detail: bool = False) -> dict:
    """An order for the API; ``detail`` adds the timeline, costs, rating and grouped reports."""
    from ..audit import snapshot

    d = snapshot(o)
    d["overdue"] = is_overdue(o, now)
    d["allowed_actions"] = [a for a in allowed_actions(o.state) if a not in SYSTEM_ACTIONS]
    if detail:
        d["timeline"] = [event_json(e) for e in s.scalars(select(WorkOrderEvent).where(
            WorkOrderEvent.order_id == o.id).order_by(WorkOrderEvent.id))]
        d["costs"] = jsonable(order_cost(s, o.id))
        r = s.scalar(select(WorkOrderRating).where(WorkOrderRating.order_id == o.id))
        d["rating"] = {"score": r.score, "comment": r.comment, "by": r.by, "at": r.at.isoformat()} if r else None
        d["grouped"] = [{"id": c.id, "number": c.number, "state": c.state} for c in children(s, o)]
    return d


class Orders:
    """Work-order operations with retries, notices and (optionally) telemetry checks."""

    def __init__(self, db, clock: Callable[[], datetime], section: dict, notices: Notices | None = None,
                 telemetry=None) -> None:
        self.db, self.clock, self.section = db, clock, section
        self.kinds = kind_defaults(section)
        self.notices = notices or Notices(None)
        self.telemetry = telemetry          # verify.Telemetry (alarm-sourced orders)
        self.notify_cfg = section.get("notify") or {}

    # -- plumbing ---------------------------------------------------------------------------------
    def _retrying(self, fn, *args, **kwargs):
        last: Exception | None = None
        for _ in range(RETRIES):
            try:
                with self.db.transaction() as s:
                    return fn(s, *args, **kwargs)
            except StaleDataError as exc:
                last = exc
            except IntegrityError as exc:
                if "number" not in str(exc):      # two orders took the same day number: renumber
                    raise
                last = exc
            except OperationalError as exc:
                if "locked" not in str(exc) and "deadlock" not in str(exc) and "serializ" not in str(exc):
                    raise
                last = exc
        raise ConcurrentUpdate(f"the record kept changing under this update ({RETRIES} attempts); try again",
                               {"version": str(last)})

    def call(self, fn, *args, **kwargs):
        """Run ``fn(session, ...)`` with retries in the calling thread (tests, CLI)."""
        return self._retrying(fn, *args, **kwargs)

    async def run(self, fn, *args, **kwargs):
        """Run ``fn(session, ...)`` with retries on the database pool; sends the notices it returns."""
        result, notices = await self.db.run_raw(self._retrying, fn, *args, **kwargs)
        self.notices.send(notices)
        return result

    # -- operations (each: session first, returns (result, notices)) ------------------------------
    def create_tx(self, s, principal: Principal | None, body: Any, source: str | None = None,
                  alarm_ids=None, fault_at=None, plan_id=None, due=None, now=None) -> tuple[dict, list]:
        """Create an order (residents: for their own unit) and assign it automatically."""
        now = now or self.clock()
        fields = validate_body(s, self.kinds, body)
        actor = principal.user if principal is not None else "system"
        person = access.person_id(principal)
        if principal is not None:
            chain = access.located_chain(s, fields["property_id"], fields.get("building_id"), fields.get("unit_id"))
            if access._in(access.staff_vis(principal, "workorders.create"), chain) or \
                    access._in(access.staff_vis(principal, "workorders.write"), chain):
                source = source or "staff"
                person = None if source == "staff" else person
            elif fields.get("unit_id") and access._in(access.resident_vis(principal, "workorders.create"),
                                                      unit_chain(s, fields["unit_id"])):
                source = "resident"
            elif not access.resident_vis(principal, "workorders.create").nothing and not fields.get("unit_id"):
                raise ValidationError("invalid work order", {"unit_id": "residents report for their own unit"})
            else:
                raise PermissionDenied("permission 'workorders.create' required here")
        o = create(s, self.section, self.kinds, now, actor, fields, source=source or "staff",
                   reporter_person_id=person if source == "resident" else None, alarm_ids=alarm_ids,
                   fault_at=fault_at, plan_id=plan_id, due=due)
        notices: list = []
        if o.parent_id is None and self.section.get("auto_assign", True):
            if assign.auto_assign(s, now, o) is not None:
                notices += order_notices(s, self.notify_cfg, o, "assign")
        return order_json(s, o, now, detail=True), notices

    def act_tx(self, s, principal: Principal | None, order_id, action: str, comment: str = "",
               staff_id: int | None = None, version: int | None = None, telemetry=None, data=None,
               now=None) -> tuple[dict, list]:
        """Apply a state-machine action with the caller's permissions."""
        now = now or self.clock()
        o = access.readable(s, principal, load(s, order_id))
        if principal is not None and action in SYSTEM_ACTIONS:
            raise PermissionDenied(f"'{action}' is done by the system only", {"action": "system only"})
        access.check_action(s, principal, o, action)
        if version is not None and version != o.version:
            raise ConcurrentUpdate(f"{o.number} changed since you read it (version {version}, now {o.version})",
                                   {"version": f"current version is {o.version}"})
        if action == "assign" and staff_id is None:
            picked = assign.candidates(s, now, o, exclude=(o.assignee_staff_id,) if o.assignee_staff_id else ())
            if not picked:
                raise ValidationError("nobody suitable is on duty", {"staff_id": "name a staff member"})
            staff_id = picked[0].id
        healthy_for = self.telemetry.healthy_for(o) if self.telemetry is not None else None
        actor = principal.user if principal is not None else "system"
        transition(s, now, o, action, actor, comment=comment, staff_id=staff_id, kinds=self.kinds,
                   healthy_for=healthy_for, telemetry=telemetry, data=data)
        notices = order_notices(s, self.notify_cfg, o, action, comment)
        for child in follow_parent(s, now, o) if action in ("complete", "verify") else []:
            notices += order_notices(s, self.notify_cfg, child, child.state == "verified" and "verify" or "resolve")
        if action in ("decline", "reopen") and self.section.get("auto_assign", True):
            if assign.auto_assign(s, now, o, exclude=(data or {}).get("exclude", ())) is not None:
                notices += order_notices(s, self.notify_cfg, o, "assign")
        return order_json(s, o, now, detail=True), notices

    def get_tx(self, s, principal, order_id, now=None) -> tuple[dict, list]:
        """One order with its timeline."""
        o = access.readable(s, principal, load(s, order_id))
        return order_json(s, o, now or self.clock(), detail=True), []

    def list_tx(self, s, principal, params: dict, now=None) -> tuple[dict, list]:
        """Orders the caller may see, overdue first, then by priority and age."""
        now = now or self.clock()
        stmt = select(WorkOrder)
        where = access.list_filter(principal)
        if where is not None:
            stmt = stmt.where(where)
        errors = {}
        for key in ("building_id", "assignee_staff_id", "asset_id", "plan_id"):
            if key in params:
                if not str(params[key]).isdigit():
                    errors[key] = "expected an integer"
                else:
                    stmt = stmt.where(getattr(WorkOrder, key) == int(params[key]))
        for key in ("state", "kind", "source", "priority", "equipment_id"):
            if key in params:
                stmt = stmt.where(getattr(WorkOrder, key).in_(str(params[key]).split(",")))
        if errors:
            raise ValidationError("invalid query parameters", errors)
        rows = list(s.scalars(stmt.order_by(WorkOrder.id.desc()).limit(1000)))
        items = [order_json(s, o, now) for o in rows]
        if params.get("alarm_id"):           # the HMI's alarm summary: which order holds this alarm
            items = [i for i in items if params["alarm_id"] in (i.get("alarm_ids") or [])]
        if params.get("overdue") in ("1", "true"):
            items = [i for i in items if i["overdue"]]
        items.sort(key=lambda i: (not i["overdue"], PRIORITY_RANK.get(i["priority"], 9), i["created_at"]))
        return {"items": items, "total": len(items)}, []

    def cost_tx(self, s, principal, order_id, body, now=None) -> tuple[dict, list]:
        """Add a part or labour line (assignee or workorders.write)."""
        now = now or self.clock()
        o = access.readable(s, principal, load(s, order_id))
        access.check_action(s, principal, o, "complete")
        line = add_cost(s, now, o, principal.user if principal else "system", body)
        return {"id": line.id, "costs": jsonable(order_cost(s, o.id))}, []

    def rate_tx(self, s, principal, order_id, body, now=None) -> tuple[dict, list]:
        """The reporter's rating (closes a verified order)."""
        now = now or self.clock()
        o = access.readable(s, principal, load(s, order_id))
        if not isinstance(body, dict):
            raise ValidationError("expected a JSON object", {"body": "expected an object"})
        out = ratings.rate(s, now, o, principal.user if principal else "system", access.person_id(principal),
                           body.get("score"), body.get("comment", ""))
        return out, []

    def housekeeping_tx(self, s, now=None) -> tuple[dict, list]:
        """Escalate unaccepted orders, assign waiting ones, auto-close unrated verified orders."""
        now = now or self.clock()
        notices: list = []
        counts = {"escalated": 0, "assigned": 0, "closed": 0}
        for o in assign.due_escalations(s, now, self.section.get("escalate_repeat", 3600.0)):
            assign.escalate(s, now, o)
            counts["escalated"] += 1
            notices += order_notices(s, self.notify_cfg, o, "escalate")
            if o.state == "assigned" and o.assigned_at == now:
                notices += order_notices(s, self.notify_cfg, o, "assign")
        if self.section.get("auto_assign", True):
            for o in s.scalars(select(WorkOrder).where(WorkOrder.state == "new", WorkOrder.parent_id.is_(None))):
                if assign.auto_assign(s, now, o) is not None:
                    counts["assigned"] += 1
                    notices += order_notices(s, self.notify_cfg, o, "assign")
        counts["overdue"] = 0
        flagged = select(WorkOrderEvent.order_id).where(WorkOrderEvent.action == "overdue")
        for o in s.scalars(select(WorkOrder).where(
                WorkOrder.state.in_(("new", "assigned", "accepted", "in_progress", "on_hold")),
                WorkOrder.completion_due < now, WorkOrder.parent_id.is_(None), WorkOrder.id.not_in(flagged))):
            add_event(s, o, now, "system", "overdue", o.state, o.state,
                      f"completion deadline {o.completion_due.isoformat()} passed")
            counts["overdue"] += 1
            notices += manager_notices(self.notify_cfg, f"[OVERDUE] {o.number}",
                                       f"{o.title} is {o.state} past its completion deadline "
                                       f"{o.completion_due:%Y-%m-%d %H:%M} UTC", f"business:workorder:{o.number}")
        for o in ratings.due_auto_close(s, now, self.section.get("auto_close_after", 3 * 86400.0)):
            transition(s, now, o, "close", "system", comment="closed without a rating")
            counts["closed"] += 1
            notices += order_notices(s, self.notify_cfg, o, "close")
        return counts, notices
