"""Apply the ``finance:`` configuration to the database: fee items and budgets (idempotent)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Building
from .accounts import ensure_chart
from .budgets import set_budget
from .models import FeeItem
from .money import to_fen

ITEM_FIELDS = ("name", "kind", "params", "cycle_months", "prepaid", "due_days", "grace_days", "account", "active")


def sync_fee_items(session: Session, property_id: int, items: list[dict]) -> dict[str, int]:
    """Create or update fee items by code (bills keep the prices they were issued with)."""
    ensure_chart(session)
    have = {f.code: f for f in session.scalars(select(FeeItem).where(FeeItem.property_id == property_id))}
    counts = {"created": 0, "updated": 0}
    for it in items:
        values = {k: it.get(k) for k in ITEM_FIELDS if it.get(k) is not None}
        values.setdefault("params", {})
        f = have.get(it["code"])
        if f is None:
            session.add(FeeItem(property_id=property_id, code=it["code"], **values))
            counts["created"] += 1
        elif any(getattr(f, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(f, k, v)
            counts["updated"] += 1
    session.flush()
    return counts


def sync_budgets(session: Session, property_id: int, budgets: list[dict]) -> int:
    """Write configured budgets (annual split evenly over months, or 12 monthly amounts)."""
    bids = dict(session.execute(select(Building.code, Building.id).where(Building.property_id == property_id)).all())
    n = 0
    for b in budgets:
        months = [to_fen(m) for m in b["months"]] if b.get("months") else None
        set_budget(session, property_id, b["year"], b["account"], bids.get(b.get("building")) if b.get("building") else None,
                   annual=to_fen(b["annual"]) if b.get("annual") is not None else None, months=months)
        n += 1
    return n
