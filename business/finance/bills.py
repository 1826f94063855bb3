"""Bills and their open amounts; one-off charges; late fees (滞纳金) on overdue lines.

A line's open amount is its amount minus its allocations (payments, prepaid
applications, voids), so receivables in the ledger always equal the open
lines. Late fees are new ``late_fee`` lines on the overdue bill, each posted as
its own entry (Dr receivables / Cr late-fee income), never edits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import LATE_FEE_INCOME, RECEIVABLE
from .errors import NotFound, ValidationError
from .models import Allocation, Bill, BillLine
from .money import FEN, round_fen, yuan


def settled_by_line(session: Session, line_ids: list[int]) -> dict[int, int]:
    """Allocated fen per bill line."""
    if not line_ids:
        return {}
    out: dict[int, int] = {}
    for chunk in range(0, len(line_ids), 900):
        ids = line_ids[chunk:chunk + 900]
        out.update({lid: int(s) for lid, s in session.execute(
            select(Allocation.line_id, func.sum(Allocation.amount)).where(Allocation.line_id.in_(ids))
            .group_by(Allocation.line_id))})
    return out


def open_lines(session: Session, unit_id: int | None = None, bill_ids: list[int] | None = None,
               property_id: int | None = None) -> list[tuple[BillLine, Bill, int]]:
    """(line, bill, open fen) of every posted line with something open, oldest bill first."""
    q = (select(BillLine, Bill).join(Bill, Bill.id == BillLine.bill_id)
         .where(BillLine.held.is_(False), BillLine.entry_id.is_not(None), Bill.status != "void"))
    if unit_id is not None:
        q = q.where(Bill.unit_id == unit_id)
    if bill_ids is not None:
        q = q.where(Bill.id.in_(bill_ids))
    if property_id is not None:
        q = q.where(Bill.property_id == property_id)
    rows = list(session.execute(q.order_by(Bill.due_on, Bill.id, BillLine.id)))
    settled = settled_by_line(session, [ln.id for ln, _ in rows])
    return [(ln, b, ln.amount - settled.get(ln.id, 0)) for ln, b in rows if ln.amount - settled.get(ln.id, 0) != 0]


def refresh_status(session: Session, bill: Bill) -> None:
    """Set a bill's status from its lines: ``paid`` when nothing is open, else ``open``."""
    lines = list(session.scalars(select(BillLine).where(BillLine.bill_id == bill.id, BillLine.held.is_(False),
                                                        BillLine.entry_id.is_not(None))))
    settled = settled_by_line(session, [ln.id for ln in lines])
    open_fen = sum(ln.amount - settled.get(ln.id, 0) for ln in lines)
    voided = bool(lines) and all(session.scalar(select(func.count()).select_from(Allocation).where(
        Allocation.line_id == ln.id, Allocation.source == "void")) for ln in lines)
    status = "void" if voided else ("paid" if open_fen == 0 else "open")
    if bill.status != status:
        bill.status = status


def bill_json(session: Session, bill: Bill, with_lines: bool = True) -> dict:
    """A bill with its lines (amounts as yuan strings, readings in each metered line's detail)."""
    lines = list(session.scalars(select(BillLine).where(BillLine.bill_id == bill.id).order_by(BillLine.id)))
    settled = settled_by_line(session, [ln.id for ln in lines])
    billed = [ln for ln in lines if not ln.held]
    out = {"id": bill.id, "bill_no": bill.bill_no, "period": bill.period, "subject": bill.subject,
           "unit_id": bill.unit_id, "space_id": bill.space_id, "building_id": bill.building_id,
           "issued_on": bill.issued_on.isoformat(), "due_on": bill.due_on.isoformat(),
           "grace_until": bill.grace_until.isoformat(), "status": bill.status,
           "total": yuan(sum(ln.amount for ln in billed)),
           "open": yuan(sum(ln.amount - settled.get(ln.id, 0) for ln in billed)),
           "held_lines": sum(1 for ln in lines if ln.held)}
    if with_lines:
        out["lines"] = [{"id": ln.id, "fee_code": ln.fee_code, "kind": ln.kind, "description": ln.description,
                         "quantity": ln.quantity, "unit_price": ln.unit_price, "amount": yuan(ln.amount),
                         "open": yuan(ln.amount - settled.get(ln.id, 0)) if not ln.held else None,
                         "held": ln.held, "hold_reason": ln.hold_reason, "detail": ln.detail} for ln in lines]
    return out


def netting(rows: list[BillLine]) -> list[Allocation]:
    """Settle each negative line (discount, credit adjustment) against the positive lines of its bill.

    Without this a payment could settle the full charge while the discount
    stayed open as a credit, and the resident would overpay.
    """
    out: list[Allocation] = []
    by_bill: dict[int, list[BillLine]] = {}
    for ln in rows:
        if ln.entry_id is not None:
            by_bill.setdefault(ln.bill_id, []).append(ln)
    for lines in by_bill.values():
        credit = -sum(ln.amount for ln in lines if ln.amount < 0)
        if not credit:
            continue
        for ln in lines:
            if ln.amount < 0:
                out.append(Allocation(line_id=ln.id, entry_id=ln.entry_id, source="netting", amount=ln.amount))
        for ln in lines:
            if credit <= 0:
                break
            if ln.amount > 0:
                take = min(credit, ln.amount)
                out.append(Allocation(line_id=ln.id, entry_id=ln.entry_id, source="netting", amount=take))
                credit -= take
        # a bill whose credits exceed its charges keeps the excess open as a credit on the last negative line
        if credit > 0:
            for a in reversed(out):
                if a.amount < 0:
                    a.amount += credit
                    break
    return out


def next_bill_no(session: Session) -> int:
    """The next bill sequence number."""
    return int(session.scalar(select(func.coalesce(func.max(Bill.id), 0)))) + 1


def charge_one_off(session: Session, property_id: int, unit_id: int, building_id: int | None, fee_code: str,
                   account: str, amount: int, description: str, on: date, due_days: int, now: datetime,
                   ref: str, actor: str = "") -> Bill:
    """A one-off charge as its own bill (idempotent by ``ref``)."""
    if amount <= 0:
        raise ValidationError("a one-off charge must be positive", {"amount": "must be > 0"})
    subject = f"unit:{unit_id}:{ref}"
    existing = session.scalars(select(Bill).where(Bill.period == "one-off", Bill.subject == subject)).first()
    if existing:
        return existing
    bill = Bill(bill_no=f"B{next_bill_no(session):08d}", property_id=property_id, building_id=building_id,
                unit_id=unit_id, subject=subject, period="one-off", issued_on=on,
                due_on=on + timedelta(days=due_days), grace_until=on + timedelta(days=due_days), status="open")
    session.add(bill)
    session.flush()
    entry = ledger.post(session, f"oneoff:{ref}", "bill", on,
                        [ledger.Line(RECEIVABLE, amount, building_id, unit_id), ledger.Line(account, -amount, building_id, unit_id)],
                        now, property_id, memo=description, actor=actor)
    bill.entry_id = entry.id
    session.add(BillLine(bill_id=bill.id, fee_code=fee_code, kind="charge", description=description, quantity="1",
                         unit_price=yuan(amount), amount=amount, account=account, entry_id=entry.id))
    session.flush()
    return bill


def assess_late_fees(session: Session, property_id: int, as_of: date, daily_rate: Decimal, cap_fraction: Decimal,
                     now: datetime, actor: str = "system") -> list[BillLine]:
    """Bring late fees up to date on every overdue bill: ``open × rate × days after grace``, capped.

    The target for a bill is computed from its open principal (charge,
    discount, adjustment lines) and the days since the grace period ended; only
    the difference to the late fees already charged is added, so running this
    daily (or twice) charges each day once. The cap is a fraction of the principal.
    """
    made = []
    rows = open_lines(session, property_id=property_id)
    by_bill: dict[int, tuple[Bill, int, int]] = {}
    for ln, bill, open_fen in rows:
        if ln.kind == "late_fee" or bill.grace_until >= as_of:
            continue
        b, principal, _ = by_bill.get(bill.id, (bill, 0, 0))
        by_bill[bill.id] = (b, principal + open_fen, 0)
    for bill_id, (bill, principal, _) in sorted(by_bill.items()):
        if principal <= 0:
            continue
        days = (as_of - bill.grace_until).days
        cap = round_fen(Decimal(principal) * cap_fraction)
        target = min(round_fen(Decimal(principal) * daily_rate * days), cap)
        charged = int(session.scalar(select(func.coalesce(func.sum(BillLine.amount), 0)).where(
            BillLine.bill_id == bill_id, BillLine.kind == "late_fee")))
        delta = target - charged
        if delta <= 0:
            continue
        ref = f"late_fee:{bill_id}:{as_of.isoformat()}"
        if ledger.find(session, ref) is not None:
            continue
        entry = ledger.post(session, ref, "late_fee", as_of,
                            [ledger.Line(RECEIVABLE, delta, bill.building_id, bill.unit_id),
                             ledger.Line(LATE_FEE_INCOME, -delta, bill.building_id, bill.unit_id)],
                            now, property_id, memo=f"late fee on {bill.bill_no} to {as_of}", actor=actor)
        line = BillLine(bill_id=bill_id, fee_code="late_fee", kind="late_fee",
                        description=f"late fee {days} days × {daily_rate * 1000}‰ on {yuan(principal)}",
                        quantity=str(days), unit_price=str(daily_rate), amount=delta, account=LATE_FEE_INCOME,
                        entry_id=entry.id, detail={"principal": yuan(principal), "days": days,
                                                   "daily_rate": str(daily_rate), "cap": yuan(cap),
                                                   "target": yuan(target), "previously": yuan(charged)})
        session.add(line)
        if bill.status == "paid":
            bill.status = "open"
        made.append(line)
    session.flush()
    return made


def get_bill(session: Session, bill_id: int) -> Bill:
    """A bill or NotFound."""
    bill = session.get(Bill, bill_id)
    if bill is None:
        raise NotFound(f"bill {bill_id} not found")
    return bill


__all__ = ["FEN", "assess_late_fees", "bill_json", "charge_one_off", "get_bill", "netting", "open_lines", "refresh_status",
           "release_held", "settled_by_line"]


def release_held(session: Session, line_id: int, quantity, note: str, now: datetime, actor: str) -> BillLine:
    """Bill a held metered or shared line after review (see :func:`business.finance.review.release_held`)."""
    from .review import release_held as release
    return release(session, line_id, quantity, note, now, actor)
