"""Statements from the postings: trial balance, balance sheet, income statement, cash flow, ageing, collection.

Every figure is an SQL sum over ``fin_postings`` by account type (integer fen),
for any date range, one property or consolidated. The cash-flow statement is
the direct method: the non-cash side of every entry that moved cash, grouped
by the counter account's category, so it always equals the change in cash.

Year-end closing (``closing.py``): the income statement leaves the closing
entries out, so a closed year still shows its revenue and expenses; the trial
balance and balance sheet include them (post-closing balances: revenue and
expense accounts at zero, the result in 4104 retained earnings, and the
balance sheet's "earnings not yet closed" line holds only unclosed years).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from .accounts import CASH_ACCOUNTS
from .bills import open_lines
from .models import Account, Allocation, Bill, BillLine, Posting
from .money import yuan
from .periods import closing_entry_ids

CASH_FLOW_LABELS = {
    "receivable": "Fees collected from residents", "prepaid": "Prepaid fees received (net of refunds)",
    "deposit": "Deposits received (net)", "fees": "Fees received directly (e.g. temporary parking)",
    "late_fee": "Late fees received directly", "payable": "Paid to suppliers", "payroll": "Paid to staff",
    "equity": "Capital contributed / withdrawn", "fixed_asset": "Purchase of fixed assets",
}
SECTION = {"fixed_asset": "investing", "equity": "financing"}


def _sums(session: Session, start: date | None, end: date | None, property_id: int | None,
          building_id: int | None = None, operating: bool = False, entry_ids=None) -> dict[str, int]:
    """Sum per account; ``operating`` leaves the year-end closing entries out."""
    q = select(Posting.account, func.sum(Posting.amount)).group_by(Posting.account)
    if entry_ids is not None:
        q = q.where(Posting.entry_id.in_(entry_ids))
    if start is not None:
        q = q.where(Posting.date >= start)
    if end is not None:
        q = q.where(Posting.date <= end)
    if property_id is not None:
        q = q.where(Posting.property_id == property_id)
    if building_id is not None:
        q = q.where(Posting.building_id == building_id)
    out = {a: int(s) for a, s in session.execute(q)}
    if operating:
        # subtract the closing entries' few postings (found by entry id) instead of filtering the big
        # sum, which then stays answered from the covering index alone
        closing = _sums(session, start, end, property_id, building_id, entry_ids=closing_entry_ids())
        for a, v in closing.items():
            out[a] = out.get(a, 0) - v
            if not out[a]:
                del out[a]     # only the closing touched it in the range
    return out


def _chart(session: Session) -> dict[str, Account]:
    return {a.code: a for a in session.scalars(select(Account).order_by(Account.code))}


def trial_balance(session: Session, start: date, end: date, property_id: int | None = None) -> dict:
    """Opening, period debits/credits and closing per account; the closing column sums to zero."""
    chart = _chart(session)
    dq = (select(Posting.account, func.sum(Posting.amount).filter(Posting.amount > 0),
                 func.sum(Posting.amount).filter(Posting.amount < 0))
          .where(Posting.date >= start, Posting.date <= end).group_by(Posting.account))
    if property_id is not None:
        dq = dq.where(Posting.property_id == property_id)
    moves = {a: (int(d or 0), int(c or 0)) for a, d, c in session.execute(dq)}
    opening = _sums(session, None, _day_before(start), property_id)
    rows, tot = [], [0, 0, 0, 0]
    for code in sorted(set(moves) | {a for a, v in opening.items() if v}):
        o, (d, c) = opening.get(code, 0), moves.get(code, (0, 0))
        close = o + d + c
        rows.append({"account": code, "name": chart[code].name, "name_zh": chart[code].name_zh,
                     "type": chart[code].type, "opening": yuan(o), "debit": yuan(d), "credit": yuan(-c),
                     "closing": yuan(close), "_closing": close, "_debit": d, "_credit": -c})
        tot = [tot[0] + o, tot[1] + d, tot[2] - c, tot[3] + close]
    return {"statement": "trial_balance", "from": start.isoformat(), "to": end.isoformat(), "property_id": property_id,
            "rows": rows, "totals": {"opening": yuan(tot[0]), "debit": yuan(tot[1]), "credit": yuan(tot[2]),
                                     "closing": yuan(tot[3])}, "balanced": tot[3] == 0 and tot[1] == tot[2]}


def _day_before(d: date) -> date:
    from datetime import timedelta
    return d - timedelta(days=1)


def balance_sheet(session: Session, as_of: date, property_id: int | None = None) -> dict:
    """Assets = liabilities + equity (current-year earnings as a line of equity) at ``as_of``."""
    chart, sums = _chart(session), _sums(session, None, as_of, property_id)
    sections: dict[str, list] = {"asset": [], "liability": [], "equity": []}
    earnings = 0
    for code, amount in sorted(sums.items()):
        t = chart[code].type
        if t in ("revenue", "expense"):
            earnings -= amount
            continue
        value = amount if t == "asset" else -amount
        sections[t].append({"account": code, "name": chart[code].name, "name_zh": chart[code].name_zh,
                            "amount": yuan(value), "_amount": value})
    # revenue and expense of closed years sit in 4104 already; this line is what is not closed yet
    sections["equity"].append({"account": "", "name": "Earnings not yet closed", "name_zh": "本年利润(未结转)",
                               "amount": yuan(earnings), "_amount": earnings})
    totals = {k: sum(r["_amount"] for r in v) for k, v in sections.items()}
    return {"statement": "balance_sheet", "as_of": as_of.isoformat(), "property_id": property_id,
            "assets": sections["asset"], "liabilities": sections["liability"], "equity": sections["equity"],
            "totals": {k: yuan(v) for k, v in totals.items()},
            "balanced": totals["asset"] == totals["liability"] + totals["equity"]}


def income_statement(session: Session, start: date, end: date, property_id: int | None = None,
                     building_id: int | None = None) -> dict:
    """Revenue and expenses of the period and the net result.

    The year-end closing entries (and their reversals when a year is reopened)
    are left out: a closed year still shows what it earned and spent, not zero.
    """
    chart, sums = _chart(session), _sums(session, start, end, property_id, building_id, operating=True)
    revenue = [{"account": c, "name": chart[c].name, "name_zh": chart[c].name_zh, "amount": yuan(-v), "_amount": -v}
               for c, v in sorted(sums.items()) if chart[c].type == "revenue"]
    expense = [{"account": c, "name": chart[c].name, "name_zh": chart[c].name_zh, "amount": yuan(v), "_amount": v}
               for c, v in sorted(sums.items()) if chart[c].type == "expense"]
    r, e = sum(x["_amount"] for x in revenue), sum(x["_amount"] for x in expense)
    return {"statement": "income_statement", "from": start.isoformat(), "to": end.isoformat(),
            "property_id": property_id, "revenue": revenue, "expenses": expense,
            "totals": {"revenue": yuan(r), "expenses": yuan(e), "net": yuan(r - e)}, "_net": r - e}


def cash_flow(session: Session, start: date, end: date, property_id: int | None = None) -> dict:
    """Direct-method cash flow: opening cash + flows by activity = closing cash (always)."""
    chart = _chart(session)
    cash = list(CASH_ACCOUNTS)
    moving = select(Posting.entry_id).where(Posting.account.in_(cash), Posting.date >= start, Posting.date <= end)
    if property_id is not None:
        moving = moving.where(Posting.property_id == property_id)
    # an entry's postings share its date, so the outer scan is limited to the period too
    q = (select(Posting.account, func.sum(Posting.amount))
         .where(Posting.date >= start, Posting.date <= end, Posting.entry_id.in_(moving.distinct()),
                Posting.account.not_in(cash)).group_by(Posting.account))
    flows: dict[str, dict[str, int]] = {"operating": {}, "investing": {}, "financing": {}}
    for code, amount in session.execute(q):
        cat = chart[code].category
        label = CASH_FLOW_LABELS.get(cat) or ("Expenses paid directly" if chart[code].type == "expense" else chart[code].name)
        sect = flows[SECTION.get(cat, "operating")]
        sect[label] = sect.get(label, 0) - int(amount)
    opening = sum(v for a, v in _sums(session, None, _day_before(start), property_id).items() if a in cash)
    closing = sum(v for a, v in _sums(session, None, end, property_id).items() if a in cash)
    net = sum(sum(s.values()) for s in flows.values())
    return {"statement": "cash_flow", "from": start.isoformat(), "to": end.isoformat(), "property_id": property_id,
            "sections": {k: [{"item": lbl, "amount": yuan(v)} for lbl, v in sorted(s.items())]
                         for k, s in flows.items()},
            "totals": {k: yuan(sum(s.values())) for k, s in flows.items()},
            "opening_cash": yuan(opening), "net_change": yuan(net), "closing_cash": yuan(closing),
            "reconciled": opening + net == closing, "_net": net, "_opening": opening, "_closing": closing}


BUCKETS = ((0, "not_due"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (10 ** 6, "over_90"))


def ageing(session: Session, as_of: date, property_id: int | None = None) -> dict:
    """Open receivables by days past due, per building and in total."""
    out: dict = {}
    total = {b: 0 for _, b in BUCKETS}
    for line, bill, open_fen in open_lines(session, property_id=property_id):
        days = (as_of - bill.due_on).days
        bucket = "not_due" if days <= 0 else next(name for lim, name in BUCKETS if days <= lim)
        row = out.setdefault(bill.building_id, {b: 0 for _, b in BUCKETS})
        row[bucket] += open_fen
        total[bucket] += open_fen
    return {"statement": "ageing", "as_of": as_of.isoformat(), "property_id": property_id,
            "buckets": [b for _, b in BUCKETS],
            "buildings": [{"building_id": b, **{k: yuan(v) for k, v in r.items()}, "total": yuan(sum(r.values()))}
                          for b, r in sorted(out.items(), key=lambda kv: kv[0] or 0)],
            "total": {**{k: yuan(v) for k, v in total.items()}, "total": yuan(sum(total.values()))},
            "_total": sum(total.values())}


def collection(session: Session, periods: list[str], property_id: int | None = None) -> dict:
    """Billed vs collected per fee item and building for bills of ``periods`` (collection rate %)."""
    settled = (select(Allocation.line_id, func.sum(Allocation.amount).label("paid"))
               .where(Allocation.source.in_(("payment", "prepaid"))).group_by(Allocation.line_id).subquery())
    voided = select(Allocation.line_id).where(Allocation.source == "void")
    q = (select(BillLine.fee_code, Bill.building_id, func.sum(BillLine.amount), func.coalesce(func.sum(settled.c.paid), 0))
         .join(Bill, Bill.id == BillLine.bill_id).outerjoin(settled, settled.c.line_id == BillLine.id)
         .where(Bill.period.in_(periods), BillLine.held.is_(False), BillLine.entry_id.is_not(None),
                BillLine.id.not_in(voided))
         .group_by(BillLine.fee_code, Bill.building_id))
    if property_id is not None:
        q = q.where(Bill.property_id == property_id)
    rows = []
    for fee, bld, billed, paid in session.execute(q):
        billed, paid = int(billed or 0), int(paid or 0)
        rows.append({"fee_code": fee, "building_id": bld, "billed": yuan(billed), "collected": yuan(paid),
                     "rate_pct": f"{(paid * 10000 // billed) / 100:.2f}" if billed > 0 else None})
    rows.sort(key=lambda r: (r["fee_code"], r["building_id"] or 0))
    return {"statement": "collection", "periods": periods, "property_id": property_id, "rows": rows}


def public(statement: dict) -> dict:
    """The statement without the internal integer helper fields (``_...``)."""
    if isinstance(statement, dict):
        return {k: public(v) for k, v in statement.items() if not k.startswith("_")}
    if isinstance(statement, list):
        return [public(v) for v in statement]
    return statement
