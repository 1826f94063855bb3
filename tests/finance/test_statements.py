"""Statements: the three financial statements, ageing, collection, budgets, CSV/HTML; SQLite = PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from business.database import Database
from business.finance import billing, bills, budgets, expenses, ledger, payments, statements
from business.finance.export import to_csv, to_html
from business.finance.meters import read_boundaries

from .conftest import NOW, build_estate, drive, fresh_pg_database
from .test_billing import EQUIPMENT, history


def scenario(db) -> dict:
    """A month of business: billing run, payments, a prepayment, a refund, a late fee, expenses, a reversal."""
    e = db.call(build_estate)
    pid, units = e["property_id"], e["units"]
    inp = db.call(billing.gather, pid, "2026-11", "Asia/Shanghai", EQUIPMENT)
    readings = drive(read_boundaries(history(), billing.meter_paths(inp), inp.start, inp.end))
    plans, summary = billing.compute(inp, readings)
    db.call(billing.post_run, inp, plans, summary, NOW)
    t = NOW + timedelta(days=3)
    db.call(lambda s: payments.record_payment(s, pid, units[0], 30000, "cash", t))
    db.call(lambda s: payments.record_payment(s, pid, units[1], 200000, "bank_transfer", t))
    p, _ = db.call(lambda s: payments.record_payment(s, pid, units[3], 12345, "card", t))
    db.call(lambda s: payments.refund(s, pid, units[1], 10000, "bank_transfer", t))
    db.call(lambda s: ledger.reverse(s, p.entry_id, t.date(), t, reason="card chargeback"))
    db.call(lambda s: bills.assess_late_fees(s, pid, date(2026, 12, 31), Decimal("0.003"), Decimal("0.3"), t))
    ex, _ = db.call(lambda s: expenses.record_invoice(s, pid, "Harbour Power", "INV-11", "6401", 150000,
                                                      date(2026, 12, 3), t, e["tower"], "meter:tower-a/meter-master"))
    db.call(lambda s: expenses.pay_invoice(s, ex.id, "bank_transfer", date(2026, 12, 10), t))
    db.call(lambda s: expenses.record_invoice(s, pid, "Lift Co", "WO-7", "6402", 80000, date(2026, 12, 5), t,
                                              e["tower"], "workorder:7"))
    db.call(lambda s: budgets.set_budget(s, pid, 2026, "6401", None, annual=1200000))
    start, end = date(2026, 11, 1), date(2026, 12, 31)

    def all_statements(s):
        return statements.public({
            "tb": statements.trial_balance(s, start, end, pid),
            "bs": statements.balance_sheet(s, end, pid),
            "is": statements.income_statement(s, start, end, pid),
            "cf": statements.cash_flow(s, start, end, pid),
            "ag": statements.ageing(s, end, pid),
            "co": statements.collection(s, ["2026-11"], pid),
            "bu": budgets.execution(s, pid, 2026, month=12),
        })
    return db.call(all_statements)


@pytest.fixture
def sqlite_statements(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 's.db'}")
    db.migrate()
    yield scenario(db)
    db.stop()


def test_statements_balance_and_reconcile(sqlite_statements):
    st = sqlite_statements
    assert st["tb"]["balanced"] and st["bs"]["balanced"] and st["cf"]["reconciled"]
    # cash: 300.00 cash + 2000.00 bank − 100.00 refund − 1500.00 to the supplier (card payment reversed)
    assert st["cf"]["closing_cash"] == "700.00"
    assert st["is"]["totals"]["expenses"] == "2300.00"
    # budget: 12,000.00 a year → 1,000.00 in December; energy actual 1,500.00 → 150 %, alert
    (row,) = st["bu"]["rows"]
    assert (row["budget"], row["actual"], row["pct"], row["alert"]) == ("1000.00", "1500.00", "150.00", True)
    # ageing total = receivables on the balance sheet
    receivable = next(r["amount"] for r in st["bs"]["assets"] if r["account"] == "1122")
    assert st["ag"]["total"]["total"] == receivable
    rates = {r["fee_code"]: r for r in st["co"]["rows"]}
    assert rates["mgmt"]["billed"] != "0.00" and Decimal(rates["mgmt"]["rate_pct"]) > 0


def test_csv_and_printable_page(sqlite_statements):
    rows = list(csv.reader(io.StringIO(to_csv({"statement": "trial_balance", **sqlite_statements["tb"]}).lstrip("\ufeff"))))
    assert rows[0][:3] == ["section", "account", "name"]
    assert rows[-1][1] == "TOTAL" and rows[-1][rows[0].index("closing")] == "0.00"
    page = to_html({"statement": "balance_sheet", **sqlite_statements["bs"]})
    assert "<table>" in page and "应收账款" in page and "<script" not in page


@pytest.mark.postgres
def test_statements_equal_on_sqlite_and_postgresql(sqlite_statements, pg_url):
    url, drop = fresh_pg_database(pg_url)
    db = Database(url)
    try:
        db.migrate()
        assert scenario(db) == sqlite_statements
    finally:
        db.stop()
        drop()
