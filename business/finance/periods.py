"""The period lock: which fiscal years are closed, and the check every posting passes.

A property's year is closed when its latest ``fin_year_closings`` row says
``close``. A posting dated in a closed year is refused, and so is one dated in
an earlier year while a later year is closed (it would change the closed
year's opening balances). Only the closing entries themselves
(:data:`CLOSING_KINDS`) are exempt: they are dated on the last day of the year
they close or reopen. Migration 0303 repeats this check as a trigger on
``fin_entries``, so a write that bypasses :func:`business.finance.ledger.post`
is refused by the database too.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import PeriodClosed
from .models import Posting, YearClosing

CLOSE_KIND = "year_close"
REOPEN_KIND = "year_reopen"
CLOSING_KINDS = (CLOSE_KIND, REOPEN_KIND)


def closed_years(session: Session, property_id: int | None = None) -> set[int]:
    """Fiscal years currently closed for ``property_id`` (None: for any property)."""
    q = select(YearClosing.property_id, YearClosing.year, YearClosing.action).order_by(YearClosing.id)
    if property_id is not None:
        q = q.where(YearClosing.property_id == property_id)
    latest: dict[tuple[int, int], str] = {}
    for pid, year, action in session.execute(q):
        latest[(pid, year)] = action
    return {year for (_pid, year), action in latest.items() if action == "close"}


def ensure_open(session: Session, property_id: int | None, on: date, kind: str = "") -> None:
    """Raise :class:`PeriodClosed` when a posting of ``kind`` dated ``on`` falls in a closed period.

    Entries without a property are checked against every property's closings
    (they appear in consolidated statements).
    """
    if kind in CLOSING_KINDS:
        return
    locking = sorted(y for y in closed_years(session, property_id) if y >= on.year)
    if not locking:
        return
    if locking[0] == on.year:
        raise PeriodClosed(on, on.year, property_id)
    raise PeriodClosed(on, locking[-1], property_id,
                       f"cannot post on {on.isoformat()}: the books are closed through fiscal year {locking[-1]}"
                       + (f" for property {property_id}" if property_id is not None else "")
                       + "; post the correction in an open year")


def closing_entry_ids():
    """A subquery of the ids of the closing entries and their reversals (few rows: one or two per year)."""
    return select(YearClosing.entry_id).where(YearClosing.entry_id.is_not(None))


def not_closing():
    """A filter on ``fin_postings`` leaving out the closing entries (revenue and expenses as the year earned them)."""
    return Posting.entry_id.not_in(closing_entry_ids())
