"""Resident ratings, auto-close of unrated orders, and staff quality figures.

The figures (orders done, average rating, response and completion SLA
compliance, reopens) are written into the business core's performance
reviews (``reviews.criteria["service"]``) by :func:`feed_reviews`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Review, Staff
from .errors import RatingRefused, ValidationError
from .models import WorkOrder, WorkOrderRating
from .workorders import transition


def rate(s: Session, now: datetime, order: WorkOrder, actor: str, person_id: int | None, score, comment: str) -> dict:
    """The reporter rates a completed (or verified) order 1–5; a verified order is then closed."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError("invalid rating", {"score": "an integer from 1 to 5"})
    if not isinstance(comment, str) or len(comment) > 1000:
        raise ValidationError("invalid rating", {"comment": "a string of at most 1000 characters"})
    if person_id is None or person_id != order.reporter_person_id:
        raise RatingRefused("only the resident who reported the order can rate it", {"order": "not your order"})
    if order.state not in ("completed", "verified"):
        raise RatingRefused(f"{order.number} is {order.state}; it can be rated once completed",
                            {"order": f"state {order.state}"})
    if s.scalar(select(WorkOrderRating.id).where(WorkOrderRating.order_id == order.id)):
        raise RatingRefused(f"{order.number} is already rated", {"order": "already rated"})
    r = WorkOrderRating(order_id=order.id, staff_id=order.assignee_staff_id, score=score, comment=comment, by=actor,
                        at=now)
    s.add(r)
    s.flush()
    if order.state == "verified":
        transition(s, now, order, "close", actor, comment=f"rated {score}/5", data={"score": score})
    return {"order_id": order.id, "score": score, "comment": comment, "staff_id": r.staff_id, "at": now.isoformat()}


def due_auto_close(s: Session, now: datetime, after_s: float) -> list[WorkOrder]:
    """Verified orders still unrated ``after_s`` seconds after completion."""
    cutoff = now - timedelta(seconds=after_s)
    rated = select(WorkOrderRating.order_id)
    return list(s.scalars(select(WorkOrder).where(WorkOrder.state == "verified", WorkOrder.completed_at <= cutoff,
                                                  WorkOrder.id.not_in(rated))))


def _pct(n: int, d: int) -> float | None:
    return round(100.0 * n / d, 1) if d else None


def staff_figures(s: Session, start: datetime, end: datetime, staff_ids: list[int] | None = None) -> list[dict]:
    """Per staff member, orders completed in ``[start, end)``: count, ratings, SLA compliance, reopens."""
    stmt = select(WorkOrder).where(WorkOrder.assignee_staff_id.is_not(None), WorkOrder.completed_at >= start,
                                   WorkOrder.completed_at < end, WorkOrder.parent_id.is_(None))
    if staff_ids is not None:
        stmt = stmt.where(WorkOrder.assignee_staff_id.in_(staff_ids))
    per: dict[int, dict] = {}
    for o in s.scalars(stmt):
        f = per.setdefault(o.assignee_staff_id, {"completed": 0, "response_met": 0, "response_total": 0,
                                                  "completion_met": 0, "completion_total": 0, "reopened": 0})
        f["completed"] += 1
        f["reopened"] += 1 if o.reopen_count else 0
        if o.response_due is not None and o.accepted_at is not None:
            f["response_total"] += 1
            f["response_met"] += o.accepted_at <= o.response_due
        if o.completion_due is not None:
            f["completion_total"] += 1
            f["completion_met"] += o.completed_at <= o.completion_due
    rstmt = select(WorkOrderRating).where(WorkOrderRating.at >= start, WorkOrderRating.at < end,
                                          WorkOrderRating.staff_id.is_not(None))
    if staff_ids is not None:
        rstmt = rstmt.where(WorkOrderRating.staff_id.in_(staff_ids))
    scores: dict[int, list[int]] = {}
    for r in s.scalars(rstmt):
        scores.setdefault(r.staff_id, []).append(r.score)
    out = []
    for sid in sorted(set(per) | set(scores)):
        f = per.get(sid, {"completed": 0, "response_met": 0, "response_total": 0, "completion_met": 0,
                          "completion_total": 0, "reopened": 0})
        sc = scores.get(sid, [])
        st = s.get(Staff, sid)
        out.append({"staff_id": sid, "employee_no": st.employee_no if st else None, "name": st.name if st else None,
                    "completed": f["completed"], "reopened": f["reopened"], "ratings": len(sc),
                    "average_rating": round(sum(sc) / len(sc), 2) if sc else None,
                    "response_sla_pct": _pct(f["response_met"], f["response_total"]),
                    "completion_sla_pct": _pct(f["completion_met"], f["completion_total"])})
    return out


def review_score(fig: dict) -> Decimal:
    """A 0–100 service score: 60 % the rating (5 = 60), 40 % completion SLA compliance."""
    rating = (fig["average_rating"] or 0) / 5 * 60 if fig["average_rating"] is not None else 45.0
    sla = (fig["completion_sla_pct"] if fig["completion_sla_pct"] is not None else 100.0) * 0.4
    return Decimal(str(round(rating + sla, 2))).quantize(Decimal("0.01"))


def feed_reviews(s: Session, period: str, start: datetime, end: datetime, actor: str) -> list[dict]:
    """Write each staff member's figures into their review for ``period`` (created when missing)."""
    out = []
    for fig in staff_figures(s, start, end):
        rv = s.scalar(select(Review).where(Review.staff_id == fig["staff_id"], Review.period == period))
        if rv is None:
            rv = Review(staff_id=fig["staff_id"], period=period, score=review_score(fig), criteria={},
                        reviewer=actor, comment="service figures from work orders")
            s.add(rv)
        criteria = dict(rv.criteria or {})
        criteria["service"] = {k: v for k, v in fig.items() if k not in ("name", "employee_no")}
        rv.criteria = criteria
        s.flush()
        out.append({"review_id": rv.id, **fig})
    return out
