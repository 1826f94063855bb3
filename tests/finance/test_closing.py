"""Year-end closing on both backends: the closing entry, the period lock on every kind of posting (and in the
database), statements after closing, idempotence, reopening with a reason, the order of years, REST and CLI."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError

from business.finance import bills, budgets, closing, expenses, ledger, payments, statements
from business.finance.errors import Conflict, NotFound, PeriodClosed, ValidationError
from business.finance.models import Entry, Posting, YearClosing
from business.models import AuditEntry
from collectors.testing import aio_test

from .conftest import NOW

END_2025 = date(2025, 12, 31)
JAN_2027 = datetime(2027, 1, 8, 2, 0, tzinfo=timezone.utc)


def book_2025_and_2026(s, estate) -> dict:
    """2025: fees 1,000.00 + 200.00, cleaning 300.00, a payment; 2026: fees 500.00. 2025 result: 900.00."""
    pid, (u1, u2, *_), tower = estate["property_id"], estate["units"], estate["tower"]
    b1 = bills.charge_one_off(s, pid, u1, tower, "mgmt", "5101", 100000, "2025 management", date(2025, 3, 1), 15,
                              NOW, "m2025")
    bills.charge_one_off(s, pid, u2, tower, "rubbish", "5107", 20000, "2025 refuse", date(2025, 6, 1), 15, NOW, "r2025")
    inv, _ = expenses.record_invoice(s, pid, "CleanCo", "C-2025", "6403", 30000, date(2025, 5, 1), NOW, tower)
    payments.record_payment(s, pid, u1, 100000, "cash", NOW, on=date(2025, 4, 1), bill_ids=[b1.id])
    bills.charge_one_off(s, pid, u1, tower, "mgmt", "5101", 50000, "2026 management", date(2026, 2, 1), 15,
                         NOW, "m2026")
    return {"bill": b1.id, "invoice": inv.id}


def _bal(s, pid, account, upto=END_2025):
    return ledger.balance(s, account, upto=upto, property_id=pid)


def test_closing_zeroes_revenue_and_expense_into_retained_earnings(db, estate):
    pid = estate["property_id"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    first = db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    assert first.created and first.row.net == 90000

    def check(s):
        entry = s.get(Entry, first.entry.id)
        assert (entry.kind, entry.date, entry.property_id) == ("year_close", END_2025, pid)
        assert sum(p.amount for p in s.scalars(select(Posting).where(Posting.entry_id == entry.id))) == 0
        # every revenue and expense account is zero at year end; the result sits in 4104, 4103 passed it on
        assert [_bal(s, pid, a) for a in ("5101", "5107", "6403", "4103")] == [0, 0, 0, 0]
        assert _bal(s, pid, "4104") == -90000
        # per building too (the closing keeps the building of each revenue line)
        tower_rev = s.scalar(select(func.sum(Posting.amount)).where(
            Posting.account == "5101", Posting.building_id == estate["tower"], Posting.date <= END_2025))
        assert int(tower_rev) == 0
        inc = statements.income_statement(s, date(2025, 1, 1), END_2025, pid)
        assert inc["totals"] == {"revenue": "1200.00", "expenses": "300.00", "net": "900.00"}
        bs = statements.balance_sheet(s, END_2025, pid)
        equity = {r["account"]: r["amount"] for r in bs["equity"]}
        assert bs["balanced"] and equity["4104"] == "900.00" and equity[""] == "0.00"
        later = statements.balance_sheet(s, date(2026, 12, 1), pid)
        equity = {r["account"]: r["amount"] for r in later["equity"]}
        assert later["balanced"] and equity["4104"] == "900.00" and equity[""] == "500.00"
        for start, end in ((date(2025, 1, 1), END_2025), (date(2025, 12, 31), date(2026, 12, 31))):
            assert statements.trial_balance(s, start, end, pid)["balanced"]
        tb = {r["account"]: r for r in statements.trial_balance(s, date(2025, 1, 1), END_2025, pid)["rows"]}
        assert tb["5101"]["closing"] == "0.00" and tb["4104"]["closing"] == "-900.00"
        assert tb["4103"]["debit"] == tb["4103"]["credit"] == "900.00"
        # December on its own earned nothing: the closing entry dated 31 December is not income
        assert statements.income_statement(s, date(2025, 12, 1), END_2025, pid)["totals"]["net"] == "0.00"
        budgets.set_budget(s, pid, 2025, "6403", estate["tower"], annual=120000)
        rows = budgets.execution(s, pid, 2025)["rows"]
        assert [(r["account"], r["actual"]) for r in rows] == [("6403", "300.00")]
        assert budgets.execution(s, pid, 2025, month=12)["rows"][0]["actual"] == "0.00"
    db.call(check)

    again = db.call(lambda s: closing.close_year(s, pid, 2025, "someone else", NOW))
    assert not again.created and again.entry.id == first.entry.id and again.row.id == first.row.id
    assert db.call(lambda s: s.scalar(select(func.count()).select_from(Entry).where(Entry.kind == "year_close"))) == 1
    assert db.call(lambda s: s.scalar(select(func.count()).select_from(YearClosing))) == 1
    audit = db.call(lambda s: [(a.action, a.actor) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.entity == "fin_year_closings"))])
    assert audit == [("close_year", "accountant")]


def test_nothing_posts_into_a_closed_year(db, estate):
    pid, (u1, u2, *_), tower = estate["property_id"], estate["units"], estate["tower"]
    made = db.call(lambda s: book_2025_and_2026(s, estate))
    db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    count = lambda s: s.scalar(select(func.count()).select_from(Entry))  # noqa: E731
    before = db.call(count)
    d = date(2025, 12, 15)
    attempts = {
        "bill": lambda s: bills.charge_one_off(s, pid, u1, tower, "mgmt", "5101", 100, "late", d, 15, NOW, "x1"),
        "expense": lambda s: expenses.record_invoice(s, pid, "Fix", "F-1", "6402", 100, d, NOW),
        "supplier payment": lambda s: expenses.pay_invoice(s, made["invoice"], "bank_transfer", d, NOW),
        "payment": lambda s: payments.record_payment(s, pid, u2, 100, "cash", NOW, on=d),
        "late fee": lambda s: bills.assess_late_fees(s, pid, d, Decimal("0.0005"), Decimal("0.3"), NOW),
        "reversal": lambda s: ledger.reverse(s, made["invoice"] and s.scalar(
            select(Entry.id).where(Entry.ref == "expense:CleanCo:C-2025")), d, NOW, "t", "wrong supplier"),
        "deposit": lambda s: payments.record_deposit(s, pid, u2, 100, "cash", NOW.replace(year=2025, month=12, day=15),
                                                    "dep-1"),
        "raw entry": lambda s: ledger.post(s, "manual:1", "adjustment", d, [ledger.Line("1001", 1),
                                                                            ledger.Line("5107", -1)], NOW, pid),
    }
    for what, attempt in attempts.items():
        with pytest.raises(PeriodClosed) as err:
            db.call(attempt)
        assert err.value.year == 2025 and err.value.on == d, what
        assert "2025-12-15" in err.value.message and "fiscal year 2025 is closed" in err.value.message, what
        assert err.value.http_status == 409 and err.value.code == "period_closed"
    # an earlier year is locked too (it would change 2025's opening balances), naming the closed year
    with pytest.raises(PeriodClosed) as err:
        db.call(lambda s: expenses.record_invoice(s, pid, "Old", "O-1", "6402", 100, date(2024, 6, 1), NOW))
    assert err.value.year == 2025 and "2024-06-01" in err.value.message and "through fiscal year 2025" in err.value.message
    assert db.call(count) == before

    # corrections go into the open year: reversing a 2025 invoice on a 2026 date works
    entry_id = db.call(lambda s: s.scalar(select(Entry.id).where(Entry.ref == "expense:CleanCo:C-2025")))
    rev = db.call(lambda s: ledger.reverse(s, entry_id, date(2026, 1, 5), NOW, "t", "duplicate invoice"))
    assert rev.date == date(2026, 1, 5)
    assert db.call(lambda s: payments.record_payment(s, pid, u2, 100, "cash", NOW, on=date(2026, 1, 6)))[1]
    # the closing entry itself cannot be reversed like an ordinary entry
    close_id = db.call(lambda s: s.scalar(select(Entry.id).where(Entry.kind == "year_close")))
    with pytest.raises(Conflict, match="reopen"):
        db.call(lambda s: ledger.reverse(s, close_id, date(2026, 1, 5), NOW))


def test_the_database_refuses_writes_that_bypass_the_ledger(db, estate):
    pid = estate["property_id"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    row = {"ref": "bulk:1", "kind": "bill", "date": date(2025, 7, 1), "posted_at": NOW, "property_id": pid,
           "memo": "", "actor": ""}
    with pytest.raises(DBAPIError, match="closed fiscal year"):
        db.call(lambda s: s.execute(insert(Entry), [row]))
    db.call(lambda s: s.execute(insert(Entry), [dict(row, date=date(2026, 7, 1))]))    # an open year is fine
    with pytest.raises(DBAPIError, match="append-only"):
        db.call(lambda s: s.execute(update(YearClosing).values(action="reopen")))


def test_reopen_needs_a_reason_reverses_and_can_close_again(db, estate):
    pid, (u1, *_), tower = estate["property_id"], estate["units"], estate["tower"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    with pytest.raises(NotFound):
        db.call(lambda s: closing.reopen_year(s, pid, 2025, "admin", NOW, "typo"))
    first = db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    with pytest.raises(ValidationError) as err:
        db.call(lambda s: closing.reopen_year(s, pid, 2025, "admin", NOW, "  "))
    assert "reason" in err.value.fields
    reopened = db.call(lambda s: closing.reopen_year(s, pid, 2025, "admin", NOW, "missed a December invoice"))
    assert reopened.row.action == "reopen" and reopened.entry.kind == "year_reopen"
    assert reopened.entry.reverses_id == first.entry.id and reopened.entry.date == END_2025
    assert db.call(lambda s: [_bal(s, pid, a) for a in ("5101", "6403", "4104")]) == [-100000, 30000, 0]
    # the year is open again: the missed invoice goes into 2025, then the year closes again with it
    db.call(lambda s: expenses.record_invoice(s, pid, "Fix", "F-9", "6402", 10000, date(2025, 12, 20), NOW, tower))
    second = db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    assert second.created and second.entry.id != first.entry.id and second.row.net == 80000
    assert db.call(lambda s: (_bal(s, pid, "4104"), _bal(s, pid, "6402"))) == (-80000, 0)
    inc = db.call(lambda s: statements.income_statement(s, date(2025, 1, 1), END_2025, pid))
    assert inc["totals"]["net"] == "800.00"
    hist = db.call(lambda s: closing.status(s, pid))
    assert hist["closed_years"] == [2025] and hist["locked_through"] == "2025-12-31"
    assert [(h["action"], h["current"]) for h in hist["history"]] == [("close", False), ("reopen", False),
                                                                      ("close", True)]
    assert hist["history"][1]["reason"] == "missed a December invoice"
    audit = db.call(lambda s: [(a.action, a.actor, (a.after or {}).get("reason")) for a in s.scalars(
        select(AuditEntry).where(AuditEntry.entity == "fin_year_closings").order_by(AuditEntry.id))])
    assert audit[1] == ("reopen_year", "admin", "missed a December invoice") and len(audit) == 3


def test_years_close_in_order_and_only_when_finished(db, estate):
    pid = estate["property_id"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    with pytest.raises(Conflict, match="has not ended"):
        db.call(lambda s: closing.close_year(s, pid, 2026, "accountant", NOW))
    with pytest.raises(Conflict, match="close 2025 first"):
        db.call(lambda s: closing.close_year(s, pid, 2026, "accountant", JAN_2027))
    with pytest.raises(ValidationError):
        db.call(lambda s: closing.close_year(s, pid, "2025", "accountant", NOW))
    db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", JAN_2027))
    c26 = db.call(lambda s: closing.close_year(s, pid, 2026, "accountant", JAN_2027))
    assert c26.row.net == 50000 and db.call(lambda s: _bal(s, pid, "4104", date(2026, 12, 31))) == -140000
    with pytest.raises(Conflict, match="reopen it first"):
        db.call(lambda s: closing.reopen_year(s, pid, 2025, "admin", JAN_2027, "audit finding"))
    # a year with nothing to close is still locked, without an entry
    empty = db.call(lambda s: closing.close_year(s, pid, 2024, "accountant", JAN_2027))
    assert empty.created and empty.entry is None and empty.row.net == 0
    assert db.call(lambda s: statements.balance_sheet(s, date(2026, 12, 31), pid))["balanced"]


@aio_test
async def test_closing_over_rest(tmp_path, db_url):
    from .test_api import _wait, call, start
    root, base, tok, _units = await start(tmp_path, db_url, extra_users=(("adm", [("admin", "*")]),))
    try:
        fin, adm, res = tok["fin"], tok["adm"], tok["resA"]
        invoice = {"supplier": "CleanCo", "invoice_no": "C-1", "account": "6403", "amount": "300.00",
                   "invoice_date": "2025-05-01"}
        assert (await call(base, "POST", "/finance/expenses", fin, invoice))[0] == 201
        assert (await call(base, "POST", "/finance/closing", res, {"year": 2025}))[0] == 403
        code, closed = await call(base, "POST", "/finance/closing", fin, {"year": 2025})
        assert code == 201 and closed["net"] == "-300.00" and closed["entry"]["date"] == "2025-12-31"
        code, again = await call(base, "POST", "/finance/closing", fin, {"year": 2025})
        assert code == 200 and again["entry_id"] == closed["entry_id"]
        code, err = await call(base, "POST", "/finance/closing", fin, {"year": "x"})
        assert code == 422 and "year" in err["error"]["fields"]
        code, err = await call(base, "POST", "/finance/expenses", fin, dict(invoice, invoice_no="C-2",
                                                                            invoice_date="2025-11-30"))
        assert code == 409 and err["error"]["code"] == "period_closed"
        assert "2025-11-30" in err["error"]["message"] and "2025" in err["error"]["fields"]["date"]
        code, st = await call(base, "GET", "/finance/closing", fin)
        assert code == 200 and st["closed_years"] == [2025] and st["locked_through"] == "2025-12-31"
        code, inc = await call(base, "GET", "/finance/statements/income_statement?from=2025-01-01&to=2025-12-31", fin)
        assert code == 200 and inc["totals"]["expenses"] == "300.00"
        # reopening is for administrators only, and needs a reason
        assert (await call(base, "POST", "/finance/closing/2025/reopen", fin, {"reason": "x"}))[0] == 403
        assert (await call(base, "POST", "/finance/closing/2025/reopen", adm, {}))[0] == 422
        code, re = await call(base, "POST", "/finance/closing/2025/reopen", adm, {"reason": "late invoice"})
        assert code == 201 and re["action"] == "reopen" and re["entry"]["reverses_id"] == closed["entry_id"]
        assert (await call(base, "POST", "/finance/expenses", fin, dict(invoice, invoice_no="C-2",
                                                                        invoice_date="2025-11-30")))[0] == 201
        code, spec = await call(base, "GET", "/openapi.json")
        assert code == 200
        ops = spec["paths"]["/finance/closing/{year}/reopen"]["post"]
        assert "/finance/closing" in spec["paths"] and "409" in ops["responses"]
    finally:
        await _wait(root.stopService())


def test_migration_0303_downgrades_and_upgrades(db_url):
    from sqlalchemy import inspect

    from business.database import Database, head_revision
    db = Database(db_url)
    db.migrate()
    assert "fin_year_closings" in inspect(db.engine).get_table_names()
    db.downgrade("0302_finance_statement_index")
    assert "fin_year_closings" not in inspect(db.engine).get_table_names()
    db.migrate()
    assert db.current_revision() == head_revision() and "fin_year_closings" in inspect(db.engine).get_table_names()
    db.stop()


def test_close_year_from_the_command_line(tmp_path):
    from business.finance.accounts import ensure_chart

    from .test_cli import ROOT, data_folder, spms

    def invoice(s, p):
        ensure_chart(s)
        expenses.record_invoice(s, p.id, "CleanCo", "C-1", "6403", 30000, date(2025, 5, 1), NOW)
    data_folder(tmp_path, invoice)
    site = ("--site", str(ROOT / "examples" / "demo"), "--data-dir", str(tmp_path))
    first = spms("finance", "close-year", "2025", *site)
    assert first.returncode == 0 and "closed 2025: result -300.00 to retained earnings" in first.stdout, first.stderr
    again = spms("finance", "close-year", "2025", *site)
    assert again.returncode == 0 and "was closed already" in again.stdout
    early = spms("finance", "close-year", "2099", *site)
    assert early.returncode == 1 and "has not ended" in early.stderr
    assert spms("finance", "reopen-year", "2025", *site).returncode == 2          # --reason is required
    reopen = spms("finance", "reopen-year", "2025", "--reason", "late invoice", *site)
    assert reopen.returncode == 0 and "reopened 2025" in reopen.stdout, reopen.stderr
    shown = spms("finance", "closings", *site)
    assert shown.returncode == 0 and '"closed_years": []' in shown.stdout and "late invoice" in shown.stdout
    assert "close-year" in spms("finance", "--help").stdout


# SQLite has a single writer: a closing cannot overlap another posting there.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_posting_in_flight_is_part_of_the_closing_on_postgresql(db, estate):
    """A 2025 invoice checked against the lock just before the closing commits is closed with the year."""
    import threading
    import time

    from sqlalchemy import text
    pid = estate["property_id"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    posted, commit, results = threading.Event(), threading.Event(), {}

    def late_invoice(s):
        expenses.record_invoice(s, pid, "Fix", "F-7", "6402", 10000, date(2025, 12, 30), NOW)
        s.flush()
        posted.set()
        assert commit.wait(30)

    def close():
        results["closing"] = db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    writer = threading.Thread(target=lambda: db.call(late_invoice))
    writer.start()
    assert posted.wait(30)
    closer = threading.Thread(target=close)
    closer.start()
    deadline = time.monotonic() + 30
    while db.call(lambda s: s.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted AND "
                                          "relation = 'fin_entries'::regclass"))) == 0:
        assert time.monotonic() < deadline, "the closing never waited for the posting in flight"
        time.sleep(0.02)
    commit.set()
    writer.join(30)
    closer.join(30)
    assert results["closing"].row.net == 80000       # 1,200.00 − 300.00 − 100.00: the late invoice is in
    assert db.call(lambda s: _bal(s, pid, "6402")) == 0


def test_a_billing_run_dated_in_a_closed_year_writes_nothing(db, estate):
    from business.finance import billing
    from business.finance.meters import read_boundaries
    from business.finance.models import Bill, BillingRun

    from .conftest import FakeHistory, drive
    pid = estate["property_id"]
    db.call(lambda s: book_2025_and_2026(s, estate))
    db.call(lambda s: closing.close_year(s, pid, 2025, "accountant", NOW))
    inp = db.call(billing.gather, pid, "2025-11", "Asia/Shanghai")
    assert inp.issued_on.year == 2025
    # no readings: the metered lines are held, the area and fixed fees are billed
    readings = drive(read_boundaries(FakeHistory(), billing.meter_paths(inp), inp.start, inp.end))
    plans, summary = billing.compute(inp, readings)
    assert summary["bills"] > 0
    with pytest.raises(PeriodClosed) as err:
        db.call(billing.post_run, inp, plans, summary, NOW)
    assert err.value.year == 2025 and err.value.on == inp.issued_on
    assert db.call(lambda s: (s.scalar(select(func.count()).select_from(BillingRun)),
                              s.scalar(select(func.count()).select_from(Bill).where(Bill.period == "2025-11")))) == (0, 0)
