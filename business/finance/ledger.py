"""The double-entry journal: balanced, append-only entries; corrections by reversal.

:func:`post` writes one entry with its postings after checking that they
balance to zero fen and name known accounts; ``ref`` is unique, so posting the
same business event twice returns the first entry (idempotent). The database
refuses UPDATE and DELETE on entries and postings (migration 0301). Nothing
is posted into a closed fiscal year (:func:`business.finance.periods.ensure_open`,
checked here for every entry; payments and billing runs that build their
entries in bulk call it too, and a database trigger backs it up).
:func:`reverse` posts the mirror image of an entry and undoes what the entry
settled or billed (allocations and bill lines), keeping every original row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .accounts import PREPAID
from .errors import AlreadyReversed, NotFound, UnbalancedEntry
from .models import Account, Allocation, Bill, BillLine, Entry, Posting
from .periods import CLOSING_KINDS, ensure_open


@dataclass(frozen=True, slots=True)
class Line:
    """One posting to make: ``amount`` fen, debit positive, credit negative."""

    account: str
    amount: int
    building_id: int | None = None
    unit_id: int | None = None


def find(session: Session, ref: str) -> Entry | None:
    """The entry posted under ``ref``, if any."""
    return session.scalars(select(Entry).where(Entry.ref == ref)).first()


def post(session: Session, ref: str, kind: str, on: date, lines: list[Line], now: datetime,
         property_id: int | None = None, memo: str = "", actor: str = "",
         reverses_id: int | None = None) -> Entry:
    """Post a balanced entry (or return the one already posted under ``ref``)."""
    existing = find(session, ref)
    if existing is not None:
        return existing
    ensure_open(session, property_id, on, kind)
    lines = [ln for ln in lines if ln.amount != 0]
    if any(not isinstance(ln.amount, int) or isinstance(ln.amount, bool) for ln in lines):
        raise UnbalancedEntry(f"entry {ref}: amounts must be integer fen")
    total = sum(ln.amount for ln in lines)
    if total != 0 or not lines:
        raise UnbalancedEntry(f"entry {ref} does not balance: debits - credits = {total} fen"
                              if lines else f"entry {ref} has no non-zero lines")
    codes = {ln.account for ln in lines}
    known = set(session.scalars(select(Account.code).where(Account.code.in_(codes))))
    if codes - known:
        raise UnbalancedEntry(f"entry {ref}: unknown account(s) {', '.join(sorted(codes - known))}")
    entry = Entry(ref=ref, kind=kind, date=on, posted_at=now, property_id=property_id, memo=memo[:400],
                  actor=actor, reverses_id=reverses_id)
    session.add(entry)
    session.flush()
    session.add_all([Posting(entry_id=entry.id, account=ln.account, amount=ln.amount, date=on,
                             property_id=property_id, building_id=ln.building_id, unit_id=ln.unit_id)
                     for ln in lines])
    session.flush()
    return entry


def reverse(session: Session, entry_id: int, on: date, now: datetime, actor: str = "", reason: str = "") -> Entry:
    """Post the reversing entry of ``entry_id`` and undo its allocations and bill lines.

    A bill line billed by the entry gets a ``void`` allocation for its full
    amount, so it is no longer open; that is refused while payments are
    allocated to it (reverse those payments first).
    """
    entry = session.get(Entry, entry_id)
    if entry is None:
        raise NotFound(f"journal entry {entry_id} not found")
    if entry.kind in CLOSING_KINDS:
        from .errors import Conflict
        raise Conflict(f"entry {entry_id} is a year-end closing entry: reopen the year instead "
                       "(POST /finance/closing/<year>/reopen with a reason)")
    if entry.reverses_id is not None:
        raise AlreadyReversed(f"entry {entry_id} is itself a reversal; post a new entry instead")
    if session.scalars(select(Entry.id).where(Entry.reverses_id == entry_id)).first() is not None:
        raise AlreadyReversed(f"entry {entry_id} has already been reversed")
    postings = list(session.scalars(select(Posting).where(Posting.entry_id == entry_id).order_by(Posting.id)))
    allocs = list(session.scalars(select(Allocation).where(Allocation.entry_id == entry_id)))
    billed = list(session.scalars(select(BillLine).where(BillLine.entry_id == entry_id, BillLine.held.is_(False))))
    ids = [b.id for b in billed]
    paid = dict(session.execute(select(Allocation.line_id, func.sum(Allocation.amount))
                                .where(Allocation.line_id.in_(ids), Allocation.source.in_(("payment", "prepaid")))
                                .group_by(Allocation.line_id)).all()) if billed else {}
    # what other entries settled (this entry's own allocations, e.g. netting, are reversed below)
    settled = dict(session.execute(select(Allocation.line_id, func.sum(Allocation.amount))
                                   .where(Allocation.line_id.in_(ids), Allocation.entry_id != entry_id)
                                   .group_by(Allocation.line_id)).all()) if billed else {}
    busy = [b.id for b in billed if paid.get(b.id, 0)]
    if busy:
        from .errors import Conflict
        raise Conflict(f"entry {entry_id}: bill line(s) {busy} have payments allocated; reverse those first")
    for p in postings:
        if p.account == PREPAID and p.unit_id is not None and p.amount < 0 \
                and -balance(session, PREPAID, unit_id=p.unit_id) + p.amount < 0:
            from .errors import Conflict
            raise Conflict(f"entry {entry_id}: its prepaid part has been used or refunded already; "
                           "reverse the later entries first")
    rev = post(session, f"reversal:{entry_id}", "reversal", on,
               [Line(p.account, -p.amount, p.building_id, p.unit_id) for p in postings], now,
               property_id=entry.property_id, memo=f"reversal of {entry.ref}: {reason}", actor=actor,
               reverses_id=entry_id)
    for a in allocs:
        session.add(Allocation(line_id=a.line_id, entry_id=rev.id, payment_id=a.payment_id, source=a.source,
                               amount=-a.amount))
    for b in billed:
        session.add(Allocation(line_id=b.id, entry_id=rev.id, payment_id=None, source="void",
                               amount=b.amount - int(settled.get(b.id, 0))))
    session.flush()
    from .bills import refresh_status
    bill_ids = {b.bill_id for b in billed} | {session.get(BillLine, a.line_id).bill_id for a in allocs}
    for bid in bill_ids:
        refresh_status(session, session.get(Bill, bid))
    return rev


def balance(session: Session, account: str, upto: date | None = None, unit_id: int | None = None,
            property_id: int | None = None) -> int:
    """Debit-positive balance of an account (optionally up to a date, for one unit or property)."""
    q = select(func.coalesce(func.sum(Posting.amount), 0)).where(Posting.account == account)
    if upto is not None:
        q = q.where(Posting.date <= upto)
    if unit_id is not None:
        q = q.where(Posting.unit_id == unit_id)
    if property_id is not None:
        q = q.where(Posting.property_id == property_id)
    return int(session.scalar(q))


def entry_json(session: Session, entry: Entry) -> dict:
    """An entry with its postings (amounts as yuan strings)."""
    from .money import yuan
    postings = session.scalars(select(Posting).where(Posting.entry_id == entry.id).order_by(Posting.id))
    return {"id": entry.id, "ref": entry.ref, "kind": entry.kind, "date": entry.date.isoformat(),
            "posted_at": entry.posted_at.isoformat(), "memo": entry.memo, "actor": entry.actor,
            "reverses_id": entry.reverses_id,
            "postings": [{"account": p.account, "debit": yuan(p.amount) if p.amount > 0 else "0.00",
                          "credit": yuan(-p.amount) if p.amount < 0 else "0.00", "building_id": p.building_id,
                          "unit_id": p.unit_id} for p in postings]}
