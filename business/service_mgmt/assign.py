"""Automatic assignment and escalation.

A candidate is an active staff member of the order's property who is on duty
now (clocked in for a running shift, from attendance), has every skill the
order needs and works in the order's building (or property-wide). Among the
candidates the least loaded (fewest open orders) wins; equals take turns
(round robin: the one whose last assignment is oldest goes first).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import attendance
from ..models import Staff
from .models import WorkOrder
from .workorders import add_event, transition

BUSY_STATES = ("assigned", "accepted", "in_progress", "on_hold")


def candidates(s: Session, now: datetime, order: WorkOrder, exclude: tuple[int, ...] = ()) -> list[Staff]:
    """On-duty staff able to do the order, best first."""
    on_duty = set(attendance.on_duty(s, now))
    need = set(order.skills or [])
    pool = [st for st in s.scalars(select(Staff).where(Staff.id.in_(sorted(on_duty)), Staff.active.is_(True),
                                                       Staff.property_id == order.property_id))
            if need <= set(st.skills or []) and st.id not in exclude
            and (st.building_id is None or order.building_id is None or st.building_id == order.building_id)]
    if not pool:
        return []
    ids = [st.id for st in pool]
    load = dict(s.execute(select(WorkOrder.assignee_staff_id, func.count()).where(
        WorkOrder.assignee_staff_id.in_(ids), WorkOrder.state.in_(BUSY_STATES)).group_by(WorkOrder.assignee_staff_id)).all())
    last = dict(s.execute(select(WorkOrder.assignee_staff_id, func.max(WorkOrder.assigned_at)).where(
        WorkOrder.assignee_staff_id.in_(ids)).group_by(WorkOrder.assignee_staff_id)).all())
    epoch = datetime.min.replace(tzinfo=now.tzinfo)

    def key(st: Staff):
        last_at = last.get(st.id)
        if last_at is not None and last_at.tzinfo is None:
            last_at = last_at.replace(tzinfo=now.tzinfo)
        return (load.get(st.id, 0), last_at or epoch, st.id)
    return sorted(pool, key=key)


def auto_assign(s: Session, now: datetime, order: WorkOrder, exclude: tuple[int, ...] = (),
                comment: str = "automatic assignment") -> Staff | None:
    """Assign the best candidate (None when nobody suitable is on duty; the order stays as it is)."""
    best = candidates(s, now, order, exclude)
    if not best:
        return None
    transition(s, now, order, "assign", "system", staff_id=best[0].id, comment=comment)
    return best[0]


def due_escalations(s: Session, now: datetime, repeat_s: float) -> list[WorkOrder]:
    """Orders not accepted by their response deadline (again every ``repeat_s`` after each escalation)."""
    rows = s.scalars(select(WorkOrder).where(WorkOrder.state.in_(("new", "assigned")),
                                             WorkOrder.response_due.is_not(None), WorkOrder.response_due < now,
                                             WorkOrder.parent_id.is_(None)))
    return [o for o in rows if now >= o.response_due + timedelta(seconds=repeat_s * (o.escalated or 0))]


def escalate(s: Session, now: datetime, order: WorkOrder) -> Staff | None:
    """Record the escalation and hand the order to another on-duty candidate if there is one."""
    order.escalated = (order.escalated or 0) + 1
    previous = order.assignee_staff_id
    add_event(s, order, now, "system", "escalate", order.state, order.state,
              f"response deadline {order.response_due.isoformat()} passed without acceptance",
              {"level": order.escalated, "previous": previous})
    s.flush()
    exclude = (previous,) if previous is not None else ()
    return auto_assign(s, now, order, exclude, comment=f"escalation {order.escalated}: reassigned")
