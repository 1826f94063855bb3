"""Expenses: supplier invoices (Dr expense / Cr payables) and their payment (Dr payables / Cr bank).

Work-order parts and labour and the common-area energy cost come in through
the same call with a ``source`` naming where they came from
(``workorder:<id>``, ``meter:<path>:<period>``); ``(supplier, invoice_no)`` is
unique, so importing the same invoice twice records it once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import ledger
from .accounts import METHOD_ACCOUNT, PAYABLE
from .errors import Conflict, NotFound, ValidationError
from .models import Account, Expense
from .money import yuan


def record_invoice(session: Session, property_id: int, supplier: str, invoice_no: str, account: str, amount: int,
                   on: date, now: datetime, building_id: int | None = None, source: str = "",
                   actor: str = "", credit: str = PAYABLE) -> tuple[Expense, bool]:
    """Record a supplier invoice (Dr expense / Cr ``credit``, payables by default); returns (expense, created)."""
    acc = session.get(Account, account)
    if acc is None or acc.type != "expense":
        raise ValidationError(f"{account!r} is not an expense account", {"account": "must be an expense account"})
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError("an invoice amount must be positive", {"amount": "must be > 0"})
    dup = session.scalars(select(Expense).where(Expense.supplier == supplier, Expense.invoice_no == invoice_no)).first()
    if dup is not None:
        return dup, False
    entry = ledger.post(session, f"expense:{supplier}:{invoice_no}", "expense", on,
                        [ledger.Line(account, amount, building_id), ledger.Line(credit, -amount, building_id)],
                        now, property_id, memo=f"{supplier} invoice {invoice_no} {source}".strip(), actor=actor)
    e = Expense(property_id=property_id, building_id=building_id, supplier=supplier, invoice_no=invoice_no,
                account=account, amount=amount, invoice_date=on, source=source,
                status="open" if credit == PAYABLE else "accrued", entry_id=entry.id)
    session.add(e)
    session.flush()
    return e, True


def pay_invoice(session: Session, expense_id: int, method: str, on: date, now: datetime, actor: str = "") -> Expense:
    """Pay a supplier invoice in full (once)."""
    e = session.get(Expense, expense_id)
    if e is None:
        raise NotFound(f"expense {expense_id} not found")
    if session.scalars(select(ledger.Entry.id).where(ledger.Entry.reverses_id == e.entry_id)).first() is not None:
        raise Conflict(f"invoice {e.invoice_no} of {e.supplier} has been reversed; it cannot be paid")
    if e.status == "accrued":
        raise Conflict(f"{e.invoice_no} is an internal cost (payroll), not a supplier invoice")
    if e.status == "paid":
        raise Conflict(f"invoice {e.invoice_no} of {e.supplier} is paid already")
    if method not in METHOD_ACCOUNT:
        raise ValidationError(f"unknown method {method!r}", {"method": "unknown"})
    ledger.post(session, f"expense_paid:{e.id}", "supplier_payment", on,
                [ledger.Line(PAYABLE, e.amount, e.building_id), ledger.Line(METHOD_ACCOUNT[method], -e.amount, e.building_id)],
                now, e.property_id, memo=f"paid {e.supplier} {e.invoice_no}", actor=actor)
    e.status = "paid"
    session.flush()
    return e


def expense_json(e: Expense) -> dict:
    """An expense (amount as a yuan string)."""
    return {"id": e.id, "supplier": e.supplier, "invoice_no": e.invoice_no, "account": e.account,
            "amount": yuan(e.amount), "invoice_date": e.invoice_date.isoformat(), "building_id": e.building_id,
            "source": e.source, "status": e.status, "entry_id": e.entry_id}


def record_work_order_costs(session: Session, property_id: int, order_id: int, on: date, now: datetime,
                            building_id: int | None = None, actor: str = "") -> list[Expense]:
    """Book a work order's cost lines: parts as a supplier invoice (Dr 6402 / Cr 2202), labour as
    staff cost (Dr 6402 / Cr 2211 payroll payable). Idempotent per order."""
    from decimal import Decimal

    from ..service_mgmt.models import WorkOrderCost
    from .money import round_fen
    totals = {"part": Decimal(0), "labour": Decimal(0)}
    for c in session.scalars(select(WorkOrderCost).where(WorkOrderCost.order_id == order_id)):
        totals[c.kind] = totals.get(c.kind, Decimal(0)) + Decimal(c.quantity) * Decimal(c.unit_price)
    out = []
    for kind, credit in (("part", PAYABLE), ("labour", "2211")):
        fen = round_fen(totals.get(kind, Decimal(0)) * 100)
        if fen > 0:
            e, _ = record_invoice(session, property_id, "work orders", f"WO{order_id}-{kind}", "6402", fen, on, now,
                                  building_id, f"workorder:{order_id}", actor, credit=credit)
            out.append(e)
    return out


def record_energy_cost(session: Session, property_id: int, period: str, path: str, kwh, price, on: date,
                       now: datetime, supplier: str = "grid", building_id: int | None = None) -> Expense | None:
    """The utility's charge for a master meter's consumption in a period (Dr 6401 / Cr 2202), once."""
    from .money import dec, round_fen
    fen = round_fen(dec(kwh, "kwh") * dec(price, "price") * 100)
    if fen <= 0:
        return None
    e, _ = record_invoice(session, property_id, supplier, f"{period}:{path}"[:64], "6401", fen, on, now, building_id,
                          f"meter:{path}:{period}", "billing")
    return e
