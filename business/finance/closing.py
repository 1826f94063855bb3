"""Year-end closing: revenue and expenses to 本年利润 (4103), then to 未分配利润 (4104); reopening.

:func:`close_year` posts one balanced entry per property dated 31 December:
it debits each revenue account and credits each expense account by its
balance for the year (per building, so building reports stay whole), credits
the year's result to 4103 and carries it on to 4104 in the same entry. After
it, every revenue and expense account of the property has a zero balance at
year end, the balance sheet shows the result in retained earnings, and the
year is locked (:mod:`business.finance.periods`). Closing is idempotent: a
closed year returns its closing. Years close in order: a year cannot close
while an earlier year still carries revenue or expense balances.

:func:`reopen_year` posts the mirror image of the closing entry (kind
``year_reopen``), appends a ``reopen`` row with the reason and writes the
audit log; the latest year must be reopened first. Nothing is ever updated
or deleted: closing again after a reopen posts a new closing entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from . import ledger
from .accounts import CURRENT_YEAR_PROFIT, RETAINED_EARNINGS
from .errors import Conflict, NotFound, ValidationError
from .models import Account, Entry, Posting, YearClosing
from .money import yuan
from .periods import CLOSE_KIND, REOPEN_KIND, closed_years


@dataclass(frozen=True, slots=True)
class Closing:
    """A year's closing as returned to callers; ``created`` is False when it existed already."""

    row: YearClosing
    entry: Entry | None
    created: bool


def _nominal(session: Session) -> list[str]:
    return list(session.scalars(select(Account.code).where(Account.type.in_(("revenue", "expense")))))


def _balances(session: Session, property_id: int, codes: list[str], start: date | None, end: date,
              by_building: bool = True) -> dict[tuple[str, int | None], int]:
    cols = [Posting.account, Posting.building_id] if by_building else [Posting.account]
    q = (select(*cols, func.sum(Posting.amount)).where(Posting.account.in_(codes), Posting.property_id == property_id,
                                                      Posting.date <= end).group_by(*cols))
    if start is not None:
        q = q.where(Posting.date >= start)
    out = {}
    for row in session.execute(q):
        amount = int(row[-1] or 0)
        if amount:
            out[(row[0], row[1] if by_building else None)] = amount
    return out


def latest(session: Session, property_id: int, year: int) -> YearClosing | None:
    """The latest closing or reopening row of a year, if any."""
    return session.scalars(select(YearClosing).where(YearClosing.property_id == property_id, YearClosing.year == year)
                           .order_by(YearClosing.id.desc()).limit(1)).first()


def _serialize(session: Session) -> None:
    """On PostgreSQL, hold back other postings until this closing or reopening commits.

    Without it a posting checked against the lock just before the closing
    commits could land in the year after its balances were read. SQLite has a
    single writer, so there the transaction itself serializes.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE fin_entries IN SHARE ROW EXCLUSIVE MODE"))


def _check_year(year) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 9999:
        raise ValidationError(f"year {year!r} is not a fiscal year", {"year": "a four-digit year"})
    return year


def close_year(session: Session, property_id: int, year: int, actor: str, now: datetime) -> Closing:
    """Close ``year`` for ``property_id`` (or return its existing closing)."""
    year = _check_year(year)
    last = latest(session, property_id, year)
    if last is not None and last.action == "close":
        entry = session.get(Entry, last.entry_id) if last.entry_id is not None else None
        return Closing(last, entry, False)
    end = date(year, 12, 31)
    if now.date() <= end:
        raise Conflict(f"fiscal year {year} has not ended yet (today is {now.date().isoformat()})",
                       {"year": "only a finished year can be closed"})
    _serialize(session)
    last = latest(session, property_id, year)    # again: a concurrent closing may have committed meanwhile
    if last is not None and last.action == "close":
        return Closing(last, session.get(Entry, last.entry_id) if last.entry_id is not None else None, False)
    codes = _nominal(session)
    earlier = _balances(session, property_id, codes, None, date(year - 1, 12, 31), by_building=False)
    if earlier:
        first = session.scalar(select(func.min(Posting.date)).where(
            Posting.account.in_(codes), Posting.property_id == property_id, Posting.date < date(year, 1, 1)))
        raise Conflict(f"revenue and expense accounts still carry balances from before {year} "
                       f"({', '.join(sorted(a for a, _ in earlier))}): close {first.year if first else year - 1} "
                       "first", {"year": "earlier years must be closed first"})
    moves = _balances(session, property_id, codes, date(year, 1, 1), end)
    net = -sum(moves.values())      # revenue is credit (negative): the result is minus the sum
    entry = None
    if moves:
        n = int(session.scalar(select(func.count()).select_from(YearClosing).where(
            YearClosing.property_id == property_id, YearClosing.year == year, YearClosing.action == "close")))
        lines = [ledger.Line(acct, -amount, bld) for (acct, bld), amount in sorted(
            moves.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))]
        # 本年利润 takes the result and passes it on to 未分配利润: both steps visible in one entry
        lines += [ledger.Line(CURRENT_YEAR_PROFIT, -net), ledger.Line(CURRENT_YEAR_PROFIT, net),
                  ledger.Line(RETAINED_EARNINGS, -net)]
        entry = ledger.post(session, f"{CLOSE_KIND}:{property_id}:{year}:{n + 1}", CLOSE_KIND, end, lines, now,
                            property_id, memo=f"year-end closing {year}: result {yuan(net)} to retained earnings",
                            actor=actor)
    row = YearClosing(property_id=property_id, year=year, action="close", entry_id=entry.id if entry else None,
                      net=net, at=now, actor=actor, reason="")
    session.add(row)
    session.flush()
    from ..audit import record
    record(session, actor, "close_year", "fin_year_closings", row.id, None, closing_json(row), now)
    session.flush()
    return Closing(row, entry, True)


def reopen_year(session: Session, property_id: int, year: int, actor: str, now: datetime, reason: str) -> Closing:
    """Reopen a closed year: reverse its closing entry (dated 31 December), record the reason, audit it."""
    year = _check_year(year)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required to reopen a closed year", {"reason": "is required"})
    _serialize(session)
    last = latest(session, property_id, year)
    if last is None or last.action != "close":
        raise NotFound(f"fiscal year {year} is not closed")
    later = sorted(y for y in closed_years(session, property_id) if y > year)
    if later:
        raise Conflict(f"fiscal year {later[-1]} is closed too: reopen it first",
                       {"year": f"reopen {later[-1]} first"})
    rev = None
    if last.entry_id is not None:
        closing = session.get(Entry, last.entry_id)
        postings = session.scalars(select(Posting).where(Posting.entry_id == closing.id).order_by(Posting.id))
        rev = ledger.post(session, f"{REOPEN_KIND}:{closing.id}", REOPEN_KIND, closing.date,
                          [ledger.Line(p.account, -p.amount, p.building_id, p.unit_id) for p in postings], now,
                          property_id, memo=f"reopening {year}: {reason}"[:400], actor=actor,
                          reverses_id=closing.id)
    row = YearClosing(property_id=property_id, year=year, action="reopen", entry_id=rev.id if rev else None,
                      net=-last.net, at=now, actor=actor, reason=reason[:400])
    session.add(row)
    session.flush()
    from ..audit import record
    record(session, actor, "reopen_year", "fin_year_closings", row.id, closing_json(last), closing_json(row), now)
    session.flush()
    return Closing(row, rev, True)


def closings(session: Session, property_id: int) -> list[dict]:
    """Every closing and reopening of the property, oldest first; ``current`` marks each year's latest row."""
    rows = list(session.scalars(select(YearClosing).where(YearClosing.property_id == property_id)
                                .order_by(YearClosing.id)))
    last = {r.year: r.id for r in rows}
    return [dict(closing_json(r), current=last[r.year] == r.id) for r in rows]


def closing_json(row: YearClosing) -> dict:
    """A closing row as JSON (the result as a yuan string)."""
    return {"id": row.id, "year": row.year, "action": row.action, "property_id": row.property_id,
            "entry_id": row.entry_id, "net": yuan(row.net), "date": date(row.year, 12, 31).isoformat(),
            "at": row.at.isoformat() if row.at else None, "actor": row.actor, "reason": row.reason}


def status(session: Session, property_id: int) -> dict:
    """The closed years and the full history of closings (for ``GET /finance/closing``)."""
    years = sorted(closed_years(session, property_id))
    return {"property_id": property_id, "closed_years": years,
            "locked_through": date(years[-1], 12, 31).isoformat() if years else None,
            "history": closings(session, property_id)}
