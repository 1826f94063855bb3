"""Preventive maintenance: plans by calendar and by usage counters, the orders they
generate ahead of time, reminders, overdue flags and the compliance report.

A plan applies to one asset or to every asset of a category. Per asset it keeps
its progress in ``PmPlan.state[str(asset_id)]``: calendar plans the next due
date (``next_due``), usage plans the next counter mark (``next_at``, a multiple of
the threshold above the first reading). An order is generated once per due
date or mark, ``lead_days`` / ``lead`` counts early; it is due at the date
(calendar) or on the normal preventive SLA (usage).
"""

from __future__ import annotations

import calendar as _cal
import math
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Asset, Building, Property
from .models import PmPlan, WorkOrder
from .notices import manager_notices, order_notices


def sync_plans(s: Session, plans: list[dict], property_id: int) -> int:
    """Create or update the configured plans (by code); returns how many were written."""
    n = 0
    for cfg in plans:
        plan = s.scalar(select(PmPlan).where(PmPlan.code == cfg["code"]))
        asset_id = None
        if cfg.get("asset"):
            asset_id = s.scalar(select(Asset.id).where(Asset.equipment_id == cfg["asset"]))
        values = dict(property_id=property_id, name=cfg["name"], asset_id=asset_id, category=cfg.get("category") or "",
                      trigger=cfg["trigger"], every=cfg.get("every"), unit=cfg.get("unit") or "days",
                      dates=list(cfg.get("dates") or []), tag=cfg.get("tag") or "", threshold=cfg.get("threshold"),
                      lead=cfg.get("lead") or 0, lead_days=cfg.get("lead_days", 7), skills=list(cfg.get("skills") or []))
        if plan is None:
            s.add(PmPlan(code=cfg["code"], active=True, state={}, **values))
        else:
            for k, v in values.items():
                setattr(plan, k, v)
        n += 1
    s.flush()
    return n


def add_months(d: date, months: int) -> date:
    """``d`` plus whole months (the day clipped to the month's length)."""
    m = d.month - 1 + months
    y, m = d.year + m // 12, m % 12 + 1
    return date(y, m, min(d.day, _cal.monthrange(y, m)[1]))


def step(d: date, every: int, unit: str) -> date:
    """The next calendar date after ``d``."""
    if unit == "months":
        return add_months(d, every)
    return d + timedelta(days=every * (7 if unit == "weeks" else 1))


def targets(s: Session, plan: PmPlan) -> list[Asset]:
    """The assets a plan covers."""
    if plan.asset_id is not None:
        a = s.get(Asset, plan.asset_id)
        return [a] if a else []
    return list(s.scalars(select(Asset).where(Asset.category == plan.category, Asset.status != "retired")
                          .order_by(Asset.id)))


def usage_targets(s: Session) -> list[tuple[int, int, str]]:
    """(plan id, asset id, tag path) of every active usage plan's linked assets: what to read live."""
    out = []
    for plan in s.scalars(select(PmPlan).where(PmPlan.active.is_(True), PmPlan.trigger == "usage")):
        for a in targets(s, plan):
            if a.equipment_id:
                out.append((plan.id, a.id, f"{a.equipment_id}/{plan.tag}"))
    return out


def _local_date(s: Session, property_id: int, now: datetime) -> date:
    from zoneinfo import ZoneInfo

    tz = s.scalar(select(Property.timezone).where(Property.id == property_id)) or "UTC"
    return now.astimezone(ZoneInfo(tz)).date()


def _generate(orders: Any, s: Session, now: datetime, plan: PmPlan, asset: Asset, title: str,
              due: datetime | None) -> tuple[dict, list]:
    body = {"kind": "preventive", "title": title[:200], "asset_id": asset.id,
            "description": f"Preventive plan {plan.code}: {plan.name}"}
    if plan.skills:
        body["skills"] = list(plan.skills)
    out, notices = orders.create_tx(s, None, body, source="plan", plan_id=plan.id, due=due, now=now)
    if not out.get("assignee_staff_id"):
        notices += manager_notices(orders.notify_cfg, f"PM {plan.code}: nobody on duty",
                                   f"{out['number']} for {asset.name} waits for assignment", f"business:pm:{plan.code}")
    return out, notices


def run_plans(orders: Any, s: Session, now: datetime, readings: dict[tuple[int, int], float]) -> tuple[dict, list]:
    """Generate the orders due now; ``readings[(plan_id, asset_id)]`` are the live usage counters."""
    made, notices = [], []
    for plan in s.scalars(select(PmPlan).where(PmPlan.active.is_(True)).order_by(PmPlan.id)):
        state = dict(plan.state or {})
        for asset in targets(s, plan):
            key = str(asset.id)
            st = dict(state.get(key) or {})
            if plan.trigger == "calendar":
                today = _local_date(s, plan.property_id, now)
                if "next_due" not in st:
                    future = sorted(d for d in plan.dates if d >= today.isoformat())
                    st["next_due"] = future[0] if future else (
                        step(today, plan.every, plan.unit).isoformat() if plan.every else None)
                due = date.fromisoformat(st["next_due"]) if st.get("next_due") else None
                if due is not None and today >= due - timedelta(days=plan.lead_days) \
                        and st.get("ordered_for") != due.isoformat():
                    due_at = datetime.combine(due, time(23, 59), timezone.utc)
                    out, ns = _generate(orders, s, now, plan, asset, f"{plan.name}: {asset.name} (due {due})", due_at)
                    made.append(out["number"])
                    notices += ns
                    st["ordered_for"], st["last_order"] = due.isoformat(), out["id"]
                    later = sorted(d for d in plan.dates if d > due.isoformat())
                    st["next_due"] = later[0] if later else (step(due, plan.every, plan.unit).isoformat()
                                                             if plan.every else None)
            else:
                reading = readings.get((plan.id, asset.id))
                if reading is None or not plan.threshold:
                    state[key] = st
                    continue
                st["reading"] = reading
                if "next_at" not in st:
                    st["next_at"] = (math.floor(reading / plan.threshold) + 1) * plan.threshold
                if reading >= st["next_at"] - (plan.lead or 0) and st.get("ordered_for") != st["next_at"]:
                    out, ns = _generate(orders, s, now, plan, asset,
                                        f"{plan.name}: {asset.name} at {plan.tag} {st['next_at']:g}", None)
                    made.append(out["number"])
                    notices += ns
                    st["ordered_for"], st["last_order"] = st["next_at"], out["id"]
                while reading >= st["next_at"]:
                    st["next_at"] += plan.threshold
            state[key] = st
        plan.state = state
    s.flush()
    notices += reminders(orders, s, now)
    return {"generated": made}, notices


def reminders(orders: Any, s: Session, now: datetime) -> list[dict]:
    """Remind the assignees of plan orders due within a day and not started yet (once per order)."""
    from .models import WorkOrderEvent
    from .workorders import add_event

    out = []
    reminded = select(WorkOrderEvent.order_id).where(WorkOrderEvent.action == "remind")
    for o in s.scalars(select(WorkOrder).where(WorkOrder.plan_id.is_not(None),
                                               WorkOrder.state.in_(("assigned", "accepted")),
                                               WorkOrder.completion_due <= now + timedelta(days=1),
                                               WorkOrder.id.not_in(reminded))):
        add_event(s, o, now, "system", "remind", o.state, o.state, "preventive work due within a day")
        out += order_notices(s, orders.notify_cfg, o, "assign", "reminder: preventive work due within a day")
    return out


def calendar_view(s: Session, start: datetime, end: datetime, now: datetime) -> dict:
    """Plan orders due in ``[start, end)`` (overdue flagged) and every plan's next due date or mark."""
    rows = []
    for o in s.scalars(select(WorkOrder).where(WorkOrder.plan_id.is_not(None), WorkOrder.completion_due >= start,
                                               WorkOrder.completion_due < end).order_by(WorkOrder.completion_due)):
        rows.append({"order_id": o.id, "number": o.number, "title": o.title, "state": o.state, "plan_id": o.plan_id,
                     "due": o.completion_due.isoformat(), "assignee_staff_id": o.assignee_staff_id,
                     "overdue": o.completed_at is None and o.state not in ("cancelled", "rejected")
                     and now > o.completion_due})
    plans = [{"id": p.id, "code": p.code, "name": p.name, "trigger": p.trigger, "asset_id": p.asset_id,
              "category": p.category, "state": p.state or {}} for p in s.scalars(select(PmPlan).order_by(PmPlan.id))]
    return {"orders": rows, "plans": plans}


def compliance(s: Session, start: datetime, end: datetime, now: datetime) -> list[dict]:
    """Planned vs done on time per building and category, for plan orders due in ``[start, end)``."""
    groups: dict[tuple[str, str], dict] = {}
    stmt = (select(WorkOrder, Asset.category, Building.code).join(Asset, WorkOrder.asset_id == Asset.id)
            .outerjoin(Building, WorkOrder.building_id == Building.id)
            .where(WorkOrder.plan_id.is_not(None), WorkOrder.completion_due >= start, WorkOrder.completion_due < end))
    for o, category, building in s.execute(stmt):
        g = groups.setdefault((building or "", category), {"building": building, "category": category, "planned": 0,
                                                           "on_time": 0, "late": 0, "overdue": 0, "open": 0})
        g["planned"] += 1
        if o.completed_at is not None:
            g["on_time" if o.completed_at <= o.completion_due else "late"] += 1
        elif o.state not in ("cancelled", "rejected"):
            g["overdue" if now > o.completion_due else "open"] += 1
    out = []
    for g in sorted(groups.values(), key=lambda g: (g["building"] or "", g["category"])):
        done_or_due = g["on_time"] + g["late"] + g["overdue"]
        g["compliance_pct"] = round(100.0 * g["on_time"] / done_or_due, 1) if done_or_due else None
        out.append(g)
    return out
