"""Work orders: creation from every source, the transitions, costs and the asset history.

Every function takes an open session (one transaction) and the injected ``now``;
the caller (``orders.Orders``) runs them off the reactor thread and retries the
whole transaction when a concurrent writer won the optimistic lock, so a
transition is either applied on top of the latest state or refused with a typed
error, never lost.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import jsonable, record, snapshot
from ..models import Asset, Building, MaintenanceRecord, Staff, Unit
from .errors import NotFound, ValidationError, VerificationBlocked
from .models import KINDS, PRIORITIES, SOURCES, WorkOrder, WorkOrderCost, WorkOrderEvent
from .states import DONE_STATES, FINAL_STATES, OPEN_STATES, next_state

MAINTENANCE_KIND = {"repair": "repair", "emergency": "repair", "preventive": "maintenance",
                    "inspection": "inspection", "cleaning": "maintenance", "complaint": "repair"}


def to_json(o: WorkOrder) -> dict:
    """An order as the API shows it, with the SLA figures."""
    d = snapshot(o)
    d["overdue"] = False
    return d


def event_json(e: WorkOrderEvent) -> dict:
    """One timeline entry."""
    return jsonable({"at": e.at, "actor": e.actor, "action": e.action, "from": e.from_state, "to": e.to_state,
                     "comment": e.comment, "data": e.data or {}})


def add_event(s: Session, order: WorkOrder, now: datetime, actor: str, action: str, before: str | None,
              after: str | None, comment: str = "", data: dict | None = None) -> WorkOrderEvent:
    """Append one timeline entry in the caller's transaction."""
    ev = WorkOrderEvent(order_id=order.id, at=now, actor=actor, action=action, from_state=before, to_state=after,
                        comment=(comment or "")[:2000], data=jsonable(data or {}))
    s.add(ev)
    return ev


def next_number(s: Session, prefix: str, now: datetime) -> str:
    """``WO20261128-0007``: the day's running number."""
    stem = f"{prefix}{now:%Y%m%d}-"
    n = s.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.number.like(stem + "%"))) or 0
    return f"{stem}{n + 1:04d}"


def _sla(kinds: dict, kind: str, start: datetime) -> tuple[datetime, datetime]:
    k = kinds[kind]
    return start + timedelta(seconds=k["response"]), start + timedelta(seconds=k["completion"])


def _int(body: dict, key: str, errors: dict) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        errors[key] = "expected an integer id"
        return None
    return v


def validate_body(s: Session, kinds: dict, body: Any) -> dict:
    """Clean creation fields, or ValidationError naming every bad field."""
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", {"body": "expected an object"})
    errors: dict[str, str] = {}
    allowed = {"kind", "title", "description", "priority", "building_id", "unit_id", "asset_id", "photos",
               "preferred_visit", "skills", "equipment_id"}
    for key in body:
        if key not in allowed:
            errors[key] = "unknown field"
    kind = body.get("kind")
    if kind not in KINDS:
        errors["kind"] = f"one of {', '.join(KINDS)}"
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "is required"
    elif len(title) > 200:
        errors["title"] = "at most 200 characters"
    if "description" in body and not isinstance(body["description"], str):
        errors["description"] = "expected a string"
    prio = body.get("priority")
    if prio is not None and prio not in PRIORITIES:
        errors["priority"] = f"one of {', '.join(PRIORITIES)}"
    photos = body.get("photos", [])
    if not isinstance(photos, list) or not all(isinstance(p, str) and 0 < len(p) <= 500 for p in photos):
        errors["photos"] = "expected a list of references (URIs)"
    skills = body.get("skills")
    if skills is not None and (not isinstance(skills, list) or not all(isinstance(x, str) for x in skills)):
        errors["skills"] = "expected a list of skill names"
    if "preferred_visit" in body and not isinstance(body["preferred_visit"], str):
        errors["preferred_visit"] = "expected a string (e.g. 2026-11-29 09:00-12:00)"
    ids = {k: _int(body, k, errors) for k in ("building_id", "unit_id", "asset_id")}
    eq = body.get("equipment_id")
    if eq is not None and not isinstance(eq, str):
        errors["equipment_id"] = "expected an equipment id"
    out = {"kind": kind, "title": (title or "").strip(), "description": body.get("description") or "",
           "priority": prio, "photos": photos if isinstance(photos, list) else [],
           "preferred_visit": body.get("preferred_visit") or "", "skills": skills, **ids}
    if not errors:
        if ids["unit_id"] is not None:
            unit = s.get(Unit, ids["unit_id"])
            if unit is None:
                errors["unit_id"] = "no such unit"
            else:
                out["building_id"] = out["building_id"] or unit.building_id
                out["property_id"] = unit.property_id
        asset = None
        if ids["asset_id"] is not None:
            asset = s.get(Asset, ids["asset_id"])
            if asset is None:
                errors["asset_id"] = "no such asset"
        elif eq:
            asset = s.scalar(select(Asset).where(Asset.equipment_id == eq))
            if asset is None:
                errors["equipment_id"] = f"no asset is linked to equipment {eq!r}"
        if asset is not None:
            out["asset_id"], out["equipment_id"] = asset.id, asset.equipment_id
            out["building_id"] = out["building_id"] or asset.building_id
            out["property_id"] = asset.property_id
        if out["building_id"] is not None:
            b = s.get(Building, out["building_id"])
            if b is None:
                errors["building_id"] = "no such building"
            else:
                out.setdefault("property_id", b.property_id)
        if "property_id" not in out and not errors:
            errors["building_id"] = "name a unit, a building or an asset"
    if errors:
        raise ValidationError("invalid work order", errors)
    return out


def create(s: Session, cfg: dict, kinds: dict, now: datetime, actor: str, fields: dict, *, source: str,
           reporter_person_id: int | None = None, alarm_ids: list | None = None, fault_at: datetime | None = None,
           plan_id: int | None = None, due: datetime | None = None) -> WorkOrder:
    """Insert a new order (state ``new``) with its SLA deadlines; resident reports about equipment
    that already has an open alarm order are grouped under it (``parent_id``)."""
    assert source in SOURCES
    kind = fields["kind"]
    start = now
    response_due, completion_due = _sla(kinds, kind, start)
    if due is not None:          # plans: the order is due on the plan date
        completion_due = max(due, response_due)
    parent = None
    if source in ("resident", "staff") and fields.get("equipment_id"):
        parent = open_alarm_order(s, fields["equipment_id"])
    o = WorkOrder(number=next_number(s, cfg.get("number_prefix", "WO"), now), property_id=fields["property_id"],
                  building_id=fields.get("building_id"), unit_id=fields.get("unit_id"),
                  asset_id=fields.get("asset_id"), equipment_id=fields.get("equipment_id"), kind=kind,
                  priority=fields.get("priority") or kinds[kind]["priority"], source=source, title=fields["title"],
                  description=fields.get("description", ""), state="new",
                  skills=fields.get("skills") if fields.get("skills") is not None else list(kinds[kind]["skills"]),
                  photos=fields.get("photos") or [], preferred_visit=fields.get("preferred_visit", ""),
                  reporter_person_id=reporter_person_id, reporter_user=actor, alarm_ids=list(alarm_ids or []),
                  plan_id=plan_id, created_at=now, response_due=response_due, completion_due=completion_due,
                  fault_at=fault_at, parent_id=parent.id if parent else None, escalated=0, reopen_count=0)
    s.add(o)
    s.flush()
    record(s, actor, "create", "work_orders", o.id, None, snapshot(o), now)
    add_event(s, o, now, actor, "create", None, "new", fields.get("description", "")[:200],
              {"source": source, "alarm_ids": list(alarm_ids or [])})
    if parent is not None:
        add_event(s, o, now, "system", "grouped", "new", "new", f"grouped under {parent.number}",
                  {"parent": parent.id})
        add_event(s, parent, now, "system", "report", parent.state, parent.state,
                  f"related report {o.number}: {o.title}", {"child": o.id})
    return o


def open_alarm_order(s: Session, equipment_id: str) -> WorkOrder | None:
    """The open (not yet verified) alarm-sourced order of a piece of equipment."""
    return s.scalar(select(WorkOrder).where(WorkOrder.equipment_id == equipment_id, WorkOrder.source == "alarm",
                                            WorkOrder.state.in_(OPEN_STATES + ("completed",)))
                    .order_by(WorkOrder.id).limit(1))


def load(s: Session, order_id: Any) -> WorkOrder:
    """An order by id (or number), or NotFound."""
    o = None
    if isinstance(order_id, int) or (isinstance(order_id, str) and order_id.isdigit()):
        o = s.get(WorkOrder, int(order_id))
    elif isinstance(order_id, str):
        o = s.scalar(select(WorkOrder).where(WorkOrder.number == order_id))
    if o is None:
        raise NotFound(f"work order {order_id} not found")
    return o


def transition(s: Session, now: datetime, order: WorkOrder, action: str, actor: str, *, comment: str = "",
               staff_id: int | None = None, kinds: dict | None = None, healthy_for: float | None = None,
               telemetry: tuple[bool, str] | None = None, data: dict | None = None) -> WorkOrder:
    """Apply one action (InvalidTransition when the state machine refuses it) and record it."""
    before = order.state
    after = next_state(before, action)
    data = dict(data or {})
    if action == "assign":
        st = s.get(Staff, staff_id) if staff_id is not None else None
        if st is None or not st.active:
            raise ValidationError("cannot assign", {"staff_id": "no such active staff member"})
        data.setdefault("staff_id", st.id)
        data.setdefault("previous", order.assignee_staff_id)
        order.assignee_staff_id, order.assigned_at = st.id, now
        order.accepted_at = None
    elif action == "decline":
        data["staff_id"] = order.assignee_staff_id
        order.assignee_staff_id = None
    elif action == "accept":
        order.accepted_at = now
    elif action == "start":
        order.started_at = now
    elif action in ("complete", "resolve"):
        order.completed_at = now
        if staff_id is not None and action == "resolve":
            order.assignee_staff_id = staff_id
    elif action == "verify":
        if order.source == "alarm":
            _check_telemetry(order, now, healthy_for, telemetry)
        order.verified_at = now
        if order.fault_at is not None and order.downtime_s is None:
            end = order.healthy_since or order.completed_at or now
            order.downtime_s = round(max(0.0, (end - order.fault_at).total_seconds()), 1)
        if data.get("downtime_s") is not None:
            order.downtime_s = float(data["downtime_s"])
        _maintenance_record(s, order, now)
    elif action == "close":
        order.closed_at = now
    elif action == "reopen":
        order.reopen_count = (order.reopen_count or 0) + 1
        order.assignee_staff_id = None
        order.assigned_at = order.accepted_at = order.started_at = None
        order.completed_at = order.verified_at = order.closed_at = None
        order.healthy_since, order.downtime_s, order.escalated = None, None, 0
        if kinds is not None:
            order.response_due, order.completion_due = _sla(kinds, order.kind, now)
    order.state = after
    s.flush()        # the optimistic version check happens here
    add_event(s, order, now, actor, action, before, after, comment, data)
    record(s, actor, action[:16], "work_orders", order.id, {"state": before}, {"state": after, "comment": comment}, now)
    return order


def _check_telemetry(order: WorkOrder, now: datetime, healthy_for: float | None,
                     telemetry: tuple[bool, str] | None) -> None:
    if telemetry is not None and not telemetry[0]:
        raise VerificationBlocked(f"{order.number} cannot be verified: {telemetry[1]}",
                                  {"telemetry": telemetry[1]})
    need = healthy_for or 0.0
    if order.healthy_since is None:
        raise VerificationBlocked(f"{order.number} cannot be verified: the alarm has not returned to normal "
                                  f"with healthy equipment values yet", {"telemetry": "not healthy"})
    held = (now - order.healthy_since).total_seconds()
    if held < need:
        raise VerificationBlocked(f"{order.number} cannot be verified: healthy for {held:.0f} s of the "
                                  f"required {need:.0f} s", {"telemetry": f"healthy for {held:.0f}/{need:.0f} s"})


def _maintenance_record(s: Session, order: WorkOrder, now: datetime) -> None:
    """The asset's maintenance history, filled once per verification (cost from the cost lines)."""
    if order.asset_id is None:
        return
    if s.scalar(select(MaintenanceRecord.id).where(MaintenanceRecord.work_order_ref == order.number)):
        return
    s.add(MaintenanceRecord(asset_id=order.asset_id, kind=MAINTENANCE_KIND.get(order.kind, "repair"),
                            performed_at=order.completed_at or now, description=f"{order.number} {order.title}"[:2000],
                            cost=order_cost(s, order.id)["total"], staff_id=order.assignee_staff_id,
                            work_order_ref=order.number))


def add_cost(s: Session, now: datetime, order: WorkOrder, actor: str, body: Any) -> WorkOrderCost:
    """A part or labour line: ``{"kind": "part"|"labour", "description", "quantity", "unit_price"}``."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", {"body": "expected an object"})
    kind = body.get("kind")
    if kind not in ("part", "labour"):
        errors["kind"] = "part or labour"
    desc = body.get("description")
    if not isinstance(desc, str) or not desc.strip():
        errors["description"] = "is required"
    nums = {}
    for key in ("quantity", "unit_price"):
        raw = body.get(key)
        if isinstance(raw, float) or isinstance(raw, bool):
            errors[key] = "send a decimal string (e.g. \"1.50\"), never a float"
            continue
        try:
            nums[key] = Decimal(str(raw)).quantize(Decimal("0.01"))
            if nums[key] < 0:
                errors[key] = "must not be negative"
        except (InvalidOperation, ValueError):
            errors[key] = "expected a decimal"
    staff_id = body.get("staff_id")
    if staff_id is not None and s.get(Staff, staff_id) is None:
        errors["staff_id"] = "no such staff member"
    if order.state in FINAL_STATES:
        errors["order"] = f"the order is {order.state}"
    if errors:
        raise ValidationError("invalid cost line", errors)
    line = WorkOrderCost(order_id=order.id, kind=kind, description=desc.strip()[:200], quantity=nums["quantity"],
                         unit_price=nums["unit_price"], staff_id=staff_id, at=now)
    s.add(line)
    s.flush()
    add_event(s, order, now, actor, "cost", order.state, order.state, f"{kind}: {desc}",
              {"quantity": nums["quantity"], "unit_price": nums["unit_price"]})
    return line


def order_cost(s: Session, order_id: int) -> dict:
    """Parts, labour and total of an order (Decimal)."""
    parts, labour = Decimal("0.00"), Decimal("0.00")
    for line in s.scalars(select(WorkOrderCost).where(WorkOrderCost.order_id == order_id)):
        amount = (Decimal(line.quantity) * Decimal(line.unit_price)).quantize(Decimal("0.01"))
        if line.kind == "part":
            parts += amount
        else:
            labour += amount
    return {"parts": parts, "labour": labour, "total": parts + labour}


def children(s: Session, order: WorkOrder) -> list[WorkOrder]:
    """Reports grouped under an order."""
    return list(s.scalars(select(WorkOrder).where(WorkOrder.parent_id == order.id).order_by(WorkOrder.id)))


def follow_parent(s: Session, now: datetime, parent: WorkOrder) -> list[WorkOrder]:
    """Grouped reports follow their parent: completed with it, verified with it."""
    moved = []
    for child in children(s, parent):
        if parent.state in ("completed", "verified") and child.state in OPEN_STATES:
            transition(s, now, child, "resolve", "system", comment=f"resolved with {parent.number}",
                       staff_id=parent.assignee_staff_id)
            moved.append(child)
        if parent.state == "verified" and child.state == "completed":
            transition(s, now, child, "verify", "system", comment=f"verified with {parent.number}")
            moved.append(child)
    s.flush()
    return moved


def is_overdue(o: WorkOrder, now: datetime) -> bool:
    """Past the response deadline without acceptance, or past completion while not done."""
    if o.state in DONE_STATES or o.state in FINAL_STATES:
        return False
    if o.state in ("new", "assigned") and o.response_due and now > o.response_due:
        return True
    return bool(o.completion_due and now > o.completion_due)
