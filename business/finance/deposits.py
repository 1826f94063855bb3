"""Deposits (押金) held for units: received, refunded, forfeited; balances from the ledger.

A deposit is a liability (2241 deposits held) until it is paid back (Dr 2241 /
Cr cash, with a refund receipt) or forfeited (Dr 2241 / Cr a revenue account,
no money changes hands). The balance of a unit is the credit balance of its
2241 postings, so reversals and corrections count without special cases.
Every movement has a ``ref``: the same ref again returns the first movement.
"""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Unit
from . import ledger
from .accounts import DEPOSITS
from .errors import Conflict, ValidationError
from .models import Account, Entry, Payment, Posting
from .money import yuan
from .payments import record_deposit

FORFEIT_ACCOUNT = "5107"


def held(session: Session, unit_id: int) -> int:
    """Fen of deposit held for the unit (positive)."""
    return -ledger.balance(session, DEPOSITS, unit_id=unit_id)


def check_unit(session: Session, property_id: int, unit_id: int) -> Unit:
    """The unit of this property, locked for the rest of the transaction (PostgreSQL) so two
    refunds or forfeits of the same deposit cannot both pass the balance check."""
    unit = session.scalars(select(Unit).where(Unit.id == unit_id, Unit.property_id == property_id)
                           .with_for_update()).first()
    if unit is None:
        raise ValidationError(f"unit {unit_id} is not a unit of this property", {"unit_id": "unknown unit"})
    return unit


def _ref(ref: str | None) -> str:
    if ref is None or ref == "":
        return uuid4().hex
    if not isinstance(ref, str) or len(ref) > 80:
        raise ValidationError("ref must be a string of at most 80 characters", {"ref": "at most 80 characters"})
    return ref


def receive(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
            ref: str | None = None, actor: str = "", memo: str = "") -> tuple[Payment, bool]:
    """A deposit received for a unit (Dr cash / Cr 2241) with a receipt; returns (receipt, created)."""
    return _move(session, property_id, unit_id, amount, method, now, ref, False, actor, memo)


def refund(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
           ref: str | None = None, actor: str = "", memo: str = "") -> tuple[Payment, bool]:
    """Pay back (part of) a unit's deposit (Dr 2241 / Cr cash), at most what is held."""
    return _move(session, property_id, unit_id, amount, method, now, ref, True, actor, memo)


def _move(session: Session, property_id: int, unit_id: int, amount: int, method: str, now: datetime,
          ref: str | None, refund: bool, actor: str, memo: str) -> tuple[Payment, bool]:
    """Receive (or with ``refund`` pay back) a deposit once per ``ref``; returns (receipt, created)."""
    check_unit(session, property_id, unit_id)
    ref = _ref(ref)
    # Looked up before record_deposit validates: a replayed refund answers with its receipt even when what is
    # held has since dropped below its amount.
    ext = f"deposit:{'out' if refund else 'in'}:{ref}"
    dup = session.scalars(select(Payment).where(Payment.external_ref == ext)).first()
    if dup is not None:
        return dup, False
    return record_deposit(session, property_id, unit_id, amount, method, now, ref, refund=refund, actor=actor,
                          memo=memo), True


def forfeit(session: Session, property_id: int, unit_id: int, amount: int, now: datetime, account: str = FORFEIT_ACCOUNT,
            ref: str | None = None, actor: str = "", memo: str = "") -> tuple[Entry, bool]:
    """Keep (part of) a unit's deposit as income (Dr 2241 / Cr ``account``), e.g. for damage; audited."""
    from ..audit import record
    check_unit(session, property_id, unit_id)
    if not isinstance(amount, int) or amount <= 0:
        raise ValidationError("a forfeit must be a positive amount", {"amount": "must be > 0"})
    acct = session.get(Account, account) if isinstance(account, str) else None
    if acct is None or acct.type != "revenue":
        raise ValidationError(f"account {account!r} is not a revenue account", {"account": "must be a revenue account"})
    ref = f"deposit:forfeit:{_ref(ref)}"
    dup = ledger.find(session, ref)
    if dup is not None:
        return dup, False
    have = held(session, unit_id)
    if amount > have:
        raise Conflict(f"forfeit of {amount} fen exceeds the {have} fen held", {"amount": f"at most {yuan(have)}"})
    entry = ledger.post(session, ref, "deposit_forfeit", now.date(),
                        [ledger.Line(DEPOSITS, amount, None, unit_id), ledger.Line(account, -amount, None, unit_id)],
                        now, property_id, memo=memo or "deposit forfeited", actor=actor)
    record(session, actor, "forfeit", "fin_deposits", unit_id, {"held": yuan(have)},
           {"held": yuan(have - amount), "amount": yuan(amount), "account": account, "memo": memo,
            "entry_id": entry.id}, now)
    session.flush()
    return entry, True


def _movement(entry: Entry, amount: int, receipts: dict[int, str]) -> dict:
    ref = entry.ref
    kind = ("received" if ref.startswith("deposit:in:") else "refunded" if ref.startswith("deposit:out:")
            else "forfeited" if ref.startswith("deposit:forfeit:") else entry.kind)
    return {"entry_id": entry.id, "date": entry.date.isoformat(), "kind": kind, "amount": yuan(-amount),
            "receipt_no": receipts.get(entry.id), "memo": entry.memo, "actor": entry.actor}


def deposits(session: Session, property_id: int, unit_ids: set[int] | None = None,
             with_movements: bool = True) -> list[dict]:
    """Per unit with deposit postings: balance held, totals received/refunded/forfeited, movements.

    ``unit_ids`` limits the list (a resident's own units); amounts are yuan
    strings, a movement's amount positive when it adds to the deposit held.
    """
    q = (select(Posting.unit_id, Entry, Posting.amount).join(Entry, Entry.id == Posting.entry_id)
         .where(Posting.account == DEPOSITS, Posting.property_id == property_id, Posting.unit_id.is_not(None))
         .order_by(Posting.unit_id, Entry.date, Entry.id))
    if unit_ids is not None:
        q = q.where(Posting.unit_id.in_(sorted(unit_ids) or [0]))
    rows = session.execute(q).all()
    receipts = dict(session.execute(select(Payment.entry_id, Payment.receipt_no).where(
        Payment.entry_id.in_([e.id for _u, e, _a in rows] or [0]))).all())
    codes = dict(session.execute(select(Unit.id, Unit.code).where(
        Unit.id.in_({u for u, _e, _a in rows} or [0]))).all())
    out: dict[int, dict] = {}
    for unit_id, entry, amount in rows:
        d = out.setdefault(unit_id, {"unit_id": unit_id, "unit": codes.get(unit_id, ""), "held": 0, "received": 0,
                                     "refunded": 0, "forfeited": 0, "movements": []})
        m = _movement(entry, amount, receipts)
        d["held"] -= amount
        if m["kind"] in ("received", "refunded", "forfeited"):
            d[m["kind"]] += abs(amount)
        d["movements"].append(m)
    for d in out.values():
        for key in ("held", "received", "refunded", "forfeited"):
            d[key] = yuan(d[key])
        if not with_movements:
            del d["movements"]
    return list(out.values())


def total_held(session: Session, property_id: int) -> int:
    """Fen held for the whole property (the 2241 credit balance)."""
    return -int(session.scalar(select(func.coalesce(func.sum(Posting.amount), 0)).where(
        Posting.account == DEPOSITS, Posting.property_id == property_id)))


__all__ = ["FORFEIT_ACCOUNT", "check_unit", "deposits", "forfeit", "held", "receive", "refund", "total_held"]
