"""Payments, prepayments and refunds, each one balanced entry; receipts numbered in sequence.

A payment debits the cash account of its method and credits receivables for
what it settles (oldest open lines first, or the bills named) and prepaid fees
(a liability) for the rest. Prepaid balances are applied to later bills
(Dr prepaid / Cr receivables). A refund pays a prepaid balance back. Payments
with an ``external_ref`` (provider transaction id) are posted once however
often they arrive.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import METHOD_ACCOUNT, PREPAID, RECEIVABLE
from .bills import open_lines, refresh_status
from .errors import Conflict, ValidationError
from .models import Allocation, Bill, Payment
from .periods import ensure_open

METHODS = tuple(METHOD_ACCOUNT)


def next_receipt_no(session: Session, year: int, prefix: str = "R") -> str:
    """The next sequential receipt number of the year (``R2026-000042``)."""
    head = f"{prefix}{year}-"
    last = session.scalar(select(func.max(Payment.receipt_no)).where(Payment.receipt_no.like(head + "%")))
    n = int(last[len(head):]) + 1 if last else 1
    return f"{head}{n:06d}"


def prepaid_balance(session: Session, unit_id: int) -> int:
    """The unit's prepaid fees (credit balance of 2203 for the unit), in fen, positive."""
    return -ledger.balance(session, PREPAID, unit_id=unit_id)


def _settle(session: Session, entry_id: int, payment_id: int | None, source: str, unit_id: int, amount: int,
            bill_ids: list[int] | None) -> tuple[list[ledger.Line], int, set[int]]:
    """Allocate up to ``amount`` to open lines (oldest first); returns credit lines, allocated fen, bills."""
    left, credits, touched = amount, [], set()
    for line, bill, open_fen in open_lines(session, unit_id=unit_id, bill_ids=bill_ids):
        if left <= 0:
            break
        if open_fen <= 0:
            continue
        take = min(left, open_fen)
        session.add(Allocation(line_id=line.id, entry_id=entry_id, payment_id=payment_id, source=source, amount=take))
        credits.append(ledger.Line(RECEIVABLE, -take, bill.building_id, unit_id))
        touched.add(bill.id)
        left -= take
    return credits, amount - left, touched


def record_payment(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
                   on: date | None = None, bill_ids: list[int] | None = None, external_ref: str | None = None,
                   provider: str = "", actor: str = "", memo: str = "") -> tuple[Payment, bool]:
    """Post a payment; returns (payment, created). Same ``external_ref`` again → (first payment, False)."""
    if method not in METHODS:
        raise ValidationError(f"unknown payment method {method!r}", {"method": f"one of {', '.join(METHODS)}"})
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError("a payment must be a positive amount", {"amount": "must be > 0"})
    if external_ref:
        dup = session.scalars(select(Payment).where(Payment.external_ref == external_ref)).first()
        if dup is not None:
            return dup, False
    on = on or now.date()
    ref = f"payment:{external_ref}" if external_ref else f"payment:{next_receipt_no(session, on.year)}"
    building_id = session.scalar(select(Bill.building_id).where(Bill.unit_id == unit_id).limit(1))
    ensure_open(session, property_id, on, "payment")
    # the entry id is needed by the allocations, so post a placeholder-free two-step: allocate, then post
    entry = ledger.Entry(ref=ref, kind="payment", date=on, posted_at=now, property_id=property_id,
                         memo=memo[:400] or f"{method} payment", actor=actor)
    session.add(entry)
    session.flush()
    payment = Payment(receipt_no=next_receipt_no(session, on.year), kind="payment", method=method, provider=provider,
                      external_ref=external_ref, property_id=property_id, unit_id=unit_id, amount=amount,
                      received_at=now, actor=actor, entry_id=entry.id, memo=memo[:400])
    session.add(payment)
    session.flush()
    credits, allocated, touched = _settle(session, entry.id, payment.id, "payment", unit_id, amount, bill_ids)
    lines = [ledger.Line(METHOD_ACCOUNT[method], amount, building_id, unit_id), *credits]
    if amount - allocated:
        lines.append(ledger.Line(PREPAID, -(amount - allocated), building_id, unit_id))
    _add_postings(session, entry, lines)
    for bid in touched:
        refresh_status(session, session.get(Bill, bid))
    session.flush()
    return payment, True


def _add_postings(session: Session, entry, lines: list[ledger.Line]) -> None:
    """Postings for an entry created before its allocations (balanced check as in :func:`ledger.post`)."""
    from .errors import UnbalancedEntry
    from .models import Posting
    lines = [ln for ln in lines if ln.amount]
    if sum(ln.amount for ln in lines) != 0:
        raise UnbalancedEntry(f"entry {entry.ref} does not balance")
    session.add_all([Posting(entry_id=entry.id, account=ln.account, amount=ln.amount, date=entry.date,
                             property_id=entry.property_id, building_id=ln.building_id, unit_id=ln.unit_id)
                     for ln in lines])


def apply_prepaid(session: Session, property_id: int, unit_id: int, now: datetime, on: date | None = None,
                  actor: str = "system") -> int:
    """Use the unit's prepaid balance for its open lines (oldest first); returns fen applied."""
    available = prepaid_balance(session, unit_id)
    if available <= 0:
        return 0
    if not any(open_fen > 0 for _l, _b, open_fen in open_lines(session, unit_id=unit_id)):
        return 0
    on = on or now.date()
    n = int(session.scalar(select(func.count()).select_from(ledger.Entry).where(
        ledger.Entry.ref.like(f"prepaid:{unit_id}:%"))))
    ensure_open(session, property_id, on, "prepaid_apply")
    entry = ledger.Entry(ref=f"prepaid:{unit_id}:{n + 1}", kind="prepaid_apply", date=on, posted_at=now,
                         property_id=property_id, memo="prepaid fees applied to open bills", actor=actor)
    session.add(entry)
    session.flush()
    credits, applied, touched = _settle(session, entry.id, None, "prepaid", unit_id, available, None)
    building_id = credits[0].building_id
    _add_postings(session, entry, [ledger.Line(PREPAID, applied, building_id, unit_id), *credits])
    for bid in touched:
        refresh_status(session, session.get(Bill, bid))
    session.flush()
    return applied


def refund(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
           on: date | None = None, actor: str = "", memo: str = "") -> Payment:
    """Pay back part of a prepaid balance (Dr prepaid / Cr cash); more than the balance is refused."""
    if method not in METHODS:
        raise ValidationError(f"unknown payment method {method!r}", {"method": f"one of {', '.join(METHODS)}"})
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError("a refund must be a positive amount", {"amount": "must be > 0"})
    available = prepaid_balance(session, unit_id)
    if amount > available:
        raise Conflict(f"refund of {amount} fen exceeds the prepaid balance of {available} fen",
                       {"amount": f"at most {available} fen"})
    on = on or now.date()
    receipt = next_receipt_no(session, on.year, prefix="F")
    entry = ledger.post(session, f"refund:{receipt}", "refund", on,
                        [ledger.Line(PREPAID, amount, None, unit_id), ledger.Line(METHOD_ACCOUNT[method], -amount, None, unit_id)],
                        now, property_id, memo=memo or "refund of prepaid fees", actor=actor)
    p = Payment(receipt_no=receipt, kind="refund", method=method, property_id=property_id, unit_id=unit_id,
                amount=-amount, received_at=now, actor=actor, entry_id=entry.id, memo=memo[:400])
    session.add(p)
    session.flush()
    return p


def payment_json(p: Payment) -> dict:
    """A receipt (amount as a yuan string)."""
    from .money import yuan
    return {"id": p.id, "receipt_no": p.receipt_no, "kind": p.kind, "method": p.method, "provider": p.provider,
            "external_ref": p.external_ref, "unit_id": p.unit_id, "amount": yuan(p.amount),
            "received_at": p.received_at.isoformat(), "entry_id": p.entry_id, "memo": p.memo}


def record_deposit(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
                   ref: str, refund: bool = False, actor: str = "", memo: str = "") -> Payment:
    """A deposit received (Dr cash / Cr deposits held) or paid back (the reverse), once per ``ref``."""
    if method not in METHODS:
        raise ValidationError(f"unknown payment method {method!r}", {"method": f"one of {', '.join(METHODS)}"})
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError("a deposit must be a positive amount", {"amount": "must be > 0"})
    from .accounts import DEPOSITS
    held = -ledger.balance(session, DEPOSITS, unit_id=unit_id)
    if refund and amount > held:
        raise Conflict(f"deposit refund of {amount} fen exceeds the {held} fen held", {"amount": f"at most {held} fen"})
    ext = f"deposit:{'out' if refund else 'in'}:{ref}"
    dup = session.scalars(select(Payment).where(Payment.external_ref == ext)).first()
    if dup is not None:
        return dup
    sign = -1 if refund else 1
    on = now.date()
    receipt = next_receipt_no(session, on.year, prefix="F" if refund else "R")
    entry = ledger.post(session, ext, "deposit", on, [ledger.Line(METHOD_ACCOUNT[method], sign * amount, None, unit_id),
                                                      ledger.Line(DEPOSITS, -sign * amount, None, unit_id)],
                        now, property_id, memo=memo or ("deposit refunded" if refund else "deposit received"), actor=actor)
    p = Payment(receipt_no=receipt, kind="refund" if refund else "deposit", method=method, external_ref=ext,
                property_id=property_id, unit_id=unit_id, amount=sign * amount, received_at=now, actor=actor,
                entry_id=entry.id, memo=memo[:400])
    session.add(p)
    session.flush()
    return p


def record_temp_parking(session: Session, property_id: int, plate: str, entered: datetime, left: datetime,
                        params: dict, method: str, now: datetime, account: str = "5106",
                        actor: str = "") -> tuple[int, Payment | None]:
    """Charge a temporary stay at the exit barrier (Dr cash / Cr temporary parking); returns (fen, receipt)."""
    from .fees import temp_parking_fee
    if left < entered:
        raise ValidationError("exit before entry", {"left": "must not be before entered"})
    if method not in METHODS:
        raise ValidationError(f"unknown payment method {method!r}", {"method": f"one of {', '.join(METHODS)}"})
    minutes = int((left - entered).total_seconds() // 60)
    fee, detail = temp_parking_fee(minutes, params)
    if fee == 0:
        return 0, None
    ext = f"parking:{plate}:{entered.isoformat()}"
    dup = session.scalars(select(Payment).where(Payment.external_ref == ext)).first()
    if dup is not None:
        return dup.amount, dup
    entry = ledger.post(session, ext, "sale", left.date(), [ledger.Line(METHOD_ACCOUNT[method], fee),
                                                            ledger.Line(account, -fee)],
                        now, property_id, memo=f"temporary parking {plate} {minutes} min", actor=actor)
    p = Payment(receipt_no=next_receipt_no(session, left.year), kind="sale", method=method, external_ref=ext,
                property_id=property_id, amount=fee, received_at=now, actor=actor, entry_id=entry.id,
                memo=f"{plate} {detail}"[:400])
    session.add(p)
    session.flush()
    return fee, p
