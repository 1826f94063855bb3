"""Held bill lines released after review: metered lines and shared common-area lines.

A billing run holds a line instead of billing a wrong amount (a Bad, missing,
stale or decreasing reading). A reviewer confirms the consumption and releases
the line: the held line stays as it was (its ``hold_reason`` says who released
it into which line), a new line carries the amount computed exactly as the run
would have (tiers for metered items; the common consumption × price split by
gross area over the item's units for shared items, plus the vacancy discount
the run gives), posted as its own balanced entry and recorded in the audit log
with the reviewer and the note.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import RECEIVABLE
from .errors import Conflict, NotFound, ValidationError
from .fees import LinePlan, metered_price, tiered, vacancy_line
from .models import Bill, BillLine, FeeItem
from .money import dec, yuan


def release_held(session: Session, line_id: int, quantity, note: str, now: datetime, actor: str) -> BillLine:
    """Bill a held metered or shared line with the consumption the reviewer confirmed.

    ``quantity`` is the unit's consumption for a metered line and the common
    consumption (master minus sub-meters) for a shared line; every held line of
    a shared item in one period must be released with the same common
    consumption, so the shares still add up to the whole.
    """
    held = session.get(BillLine, line_id)
    if held is None or not held.held:
        raise NotFound(f"held bill line {line_id} not found")
    if "released as line" in held.hold_reason:
        raise Conflict(f"line {line_id} has been released already")
    bill = session.get(Bill, held.bill_id)
    item = session.scalars(select(FeeItem).where(FeeItem.code == held.fee_code)).first()
    if item is None or item.kind not in ("metered", "shared"):
        raise ValidationError("only held metered and shared lines are released with a quantity",
                              {"line": "not a metered or shared line"})
    qty = dec(quantity, "quantity")
    if qty < 0:
        raise ValidationError("quantity must not be negative", {"quantity": "must be ≥ 0"})
    if item.kind == "metered":
        plan = _metered_plan(held, item, qty, note)
    else:
        plan = _shared_plan(session, held, bill, item, qty, note)
    plan.detail = {**(held.detail or {}), **plan.detail, "reviewed_by": actor, "review_note": note,
                   "held_reason": held.hold_reason, "held_line": held.id}
    plans = [plan]
    unit = _unit_info(session, bill)
    if unit is not None and unit.status == "vacant" and (item.params or {}).get("vacancy_discount") and plan.amount:
        # the run gives a vacant unit its discount as an explicit line; so does the release
        plans.append(vacancy_line(plan, dec(item.params["vacancy_discount"], "vacancy_discount")))
    return _post(session, held, bill, plans, qty, note, now, actor)


def _metered_plan(held: BillLine, item: FeeItem, qty: Decimal, note: str) -> LinePlan:
    amount, parts = tiered(qty, metered_price(item.params or {}))
    return LinePlan(held.fee_code, f"{item.name}: {qty} after review ({note})", str(qty),
                    parts[0]["price"] if len(parts) == 1 else "tiered", amount, held.account, detail={"tiers": parts})


def _shared_plan(session: Session, held: BillLine, bill: Bill, item: FeeItem, qty: Decimal, note: str) -> LinePlan:
    from .billing import applies, shared_allocation, unit_infos
    spec = {"code": item.code, "name": item.name, "params": dict(item.params or {}), "account": held.account}
    units = [u for u in unit_infos(session, bill.property_id) if applies(spec, u)]
    if bill.unit_id not in {u.id for u in units}:
        raise ValidationError(f"unit {bill.unit_id} does not share {item.code}", {"line": "unit not in the item's units"})
    _same_common_as_before(session, held, bill, qty)
    plan = shared_allocation(spec, units, qty, {"confirmed_common": str(qty)})[bill.unit_id]
    plan.description = f"{plan.description} after review ({note})"
    return plan


def _same_common_as_before(session: Session, held: BillLine, bill: Bill, qty: Decimal) -> None:
    """Refuse a common consumption that differs from an earlier release of the same item and period."""
    earlier = session.execute(
        select(BillLine.detail).join(Bill, Bill.id == BillLine.bill_id)
        .where(Bill.property_id == bill.property_id, Bill.period == bill.period, BillLine.fee_code == held.fee_code,
               BillLine.held.is_(False), BillLine.kind == "charge")).scalars()
    for detail in earlier:
        confirmed = (detail or {}).get("confirmed_common")
        if confirmed is not None and Decimal(confirmed) != qty:
            raise Conflict(f"{held.fee_code} {bill.period} was released with a common consumption of {confirmed}; "
                           f"release the other held lines with the same quantity",
                           {"quantity": f"must be {confirmed} (as released before)"})


def _unit_info(session: Session, bill: Bill):
    from ..models import Unit
    return session.get(Unit, bill.unit_id) if bill.unit_id is not None else None


def _post(session: Session, held: BillLine, bill: Bill, plans: list[LinePlan], qty: Decimal, note: str,
          now: datetime, actor: str) -> BillLine:
    from ..audit import record
    from .bills import netting
    net = sum(p.amount for p in plans)
    entry = None
    if any(p.amount for p in plans):
        postings = []
        for p in plans:
            postings += [ledger.Line(RECEIVABLE, p.amount, bill.building_id, bill.unit_id),
                         ledger.Line(p.account, -p.amount, bill.building_id, bill.unit_id)]
        entry = ledger.post(session, f"release:{held.id}", "bill", now.date(), postings, now, bill.property_id,
                            memo=f"{bill.bill_no}: reviewed {held.fee_code} ({note})", actor=actor)
    lines = [BillLine(bill_id=bill.id, fee_code=p.fee_code, kind=p.kind, description=p.description[:400],
                      quantity=p.quantity, unit_price=p.unit_price, amount=p.amount, account=p.account,
                      entry_id=entry.id if entry is not None and p.amount else None, detail=p.detail) for p in plans]
    session.add_all(lines)
    session.flush()
    session.add_all(netting(lines))
    before = held.hold_reason
    held.hold_reason = f"{held.hold_reason}; released as line {lines[0].id} by {actor}"[:200]
    if net and bill.status in ("paid", "held"):
        bill.status = "open"
    record(session, actor, "release", "fin_bill_lines", held.id, {"held": True, "hold_reason": before},
           {"released_as": [ln.id for ln in lines], "quantity": str(qty), "amount": yuan(net), "note": note,
            "entry_id": entry.id if entry is not None else None}, now)
    session.flush()
    return lines[0]


__all__ = ["release_held"]
