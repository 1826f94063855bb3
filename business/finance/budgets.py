"""Budgets per account (and building) by year, quarter and month; execution against the ledger.

Actual = the account's movement in the period (expenses debit-positive,
revenue credit-positive). A line alerts when actual exceeds ``alert_pct`` of
its budget.
"""

from __future__ import annotations

import calendar
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Account, Budget, Posting
from .periods import not_closing
from .money import split_even, yuan


def set_budget(session: Session, property_id: int, year: int, account: str, building_id: int | None,
               annual: int | None = None, months: list[int] | None = None) -> None:
    """Set the 12 monthly budget rows of an account (replacing earlier figures for that year)."""
    amounts = months if months is not None else split_even(int(annual or 0), 12)
    rows = {b.month: b for b in session.scalars(select(Budget).where(
        Budget.property_id == property_id, Budget.year == year, Budget.account == account,
        Budget.building_id.is_(None) if building_id is None else Budget.building_id == building_id))}
    for m, amount in enumerate(amounts, 1):
        if m in rows:
            rows[m].amount = amount
        else:
            session.add(Budget(property_id=property_id, year=year, month=m, account=account,
                               building_id=building_id, amount=amount))
    session.flush()


def _months(year: int, quarter: int | None, month: int | None) -> list[int]:
    if month:
        return [month]
    if quarter:
        return [3 * (quarter - 1) + i for i in (1, 2, 3)]
    return list(range(1, 13))


def execution(session: Session, property_id: int, year: int, quarter: int | None = None, month: int | None = None,
              alert_pct: int = 90) -> dict:
    """Budget vs actual per (account, building) for a year, quarter or month, with variance and alerts."""
    months = _months(year, quarter, month)
    start, end = date(year, months[0], 1), date(year, months[-1], calendar.monthrange(year, months[-1])[1])
    types = dict(session.execute(select(Account.code, Account.type)).all())
    budget = {}
    for acc, bld, amt in session.execute(select(Budget.account, Budget.building_id, func.sum(Budget.amount)).where(
            Budget.property_id == property_id, Budget.year == year, Budget.month.in_(months))
            .group_by(Budget.account, Budget.building_id)):
        budget[(acc, bld)] = int(amt)
    rows = []
    for (acc, bld), amt in sorted(budget.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        q = select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.account == acc, Posting.date >= start, Posting.date <= end, Posting.property_id == property_id,
            not_closing())   # December's actuals are what was earned and spent, not the year-end closing
        if bld is not None:
            q = q.where(Posting.building_id == bld)
        actual = int(session.scalar(q))
        if types.get(acc) in ("revenue", "liability", "equity"):
            actual = -actual
        pct = (actual * 10000 // amt) / 100 if amt else None
        rows.append({"account": acc, "building_id": bld, "budget": yuan(amt), "actual": yuan(actual),
                     "variance": yuan(amt - actual), "pct": f"{pct:.2f}" if pct is not None else None,
                     "alert": bool(amt and types.get(acc) == "expense" and actual * 100 > amt * alert_pct)})
    return {"year": year, "quarter": quarter, "month": month, "from": start.isoformat(), "to": end.isoformat(),
            "alert_pct": alert_pct, "rows": rows, "alerts": [r for r in rows if r["alert"]]}
