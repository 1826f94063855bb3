"""Expenses: supplier invoices and payments, work-order parts and labour, common-area energy cost; budgets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from business.finance import budgets, expenses, ledger
from business.finance.errors import Conflict, ValidationError

from .conftest import NOW


def test_invoice_then_payment_once(db, estate):
    pid = estate["property_id"]
    e, created = db.call(lambda s: expenses.record_invoice(s, pid, "CleanCo", "C-1", "6403", 480000, date(2026, 11, 30),
                                                           NOW, estate["tower"]))
    again, created2 = db.call(lambda s: expenses.record_invoice(s, pid, "CleanCo", "C-1", "6403", 480000,
                                                                date(2026, 11, 30), NOW))
    assert created and not created2 and again.id == e.id
    assert db.call(lambda s: ledger.balance(s, "2202")) == -480000
    db.call(lambda s: expenses.pay_invoice(s, e.id, "bank_transfer", date(2026, 12, 5), NOW))
    assert db.call(lambda s: (ledger.balance(s, "2202"), ledger.balance(s, "1002"))) == (0, -480000)
    with pytest.raises(Conflict):
        db.call(lambda s: expenses.pay_invoice(s, e.id, "bank_transfer", date(2026, 12, 5), NOW))
    with pytest.raises(ValidationError):
        db.call(lambda s: expenses.record_invoice(s, pid, "X", "1", "5101", 100, date(2026, 11, 30), NOW))


def test_work_order_parts_and_labour(db, estate):
    from business.service_mgmt.models import WorkOrder, WorkOrderCost
    pid = estate["property_id"]

    def order(s):
        wo = WorkOrder(number="WO-1", property_id=pid, building_id=estate["tower"], kind="repair", priority="normal",
                       source="manual", title="pump seal", created_at=NOW)
        s.add(wo)
        s.flush()
        s.add_all([WorkOrderCost(order_id=wo.id, kind="part", description="seal kit", quantity=Decimal("2"),
                                 unit_price=Decimal("85.50"), at=NOW),
                   WorkOrderCost(order_id=wo.id, kind="labour", description="2.5 h", quantity=Decimal("2.5"),
                                 unit_price=Decimal("60.00"), at=NOW)])
        return wo.id
    wo = db.call(order)
    made = db.call(lambda s: expenses.record_work_order_costs(s, pid, wo, date(2026, 11, 20), NOW, estate["tower"]))
    assert sorted(e.amount for e in made) == [15000, 17100]
    db.call(lambda s: expenses.record_work_order_costs(s, pid, wo, date(2026, 11, 20), NOW, estate["tower"]))
    assert db.call(lambda s: (ledger.balance(s, "6402"), ledger.balance(s, "2202"), ledger.balance(s, "2211"))) == \
        (32100, -17100, -15000)


def test_energy_cost_and_budget_alert(db, estate):
    pid = estate["property_id"]
    db.call(lambda s: budgets.set_budget(s, pid, 2026, "6401", None, annual=1_000_000))      # 10,000.00 a year
    e = db.call(lambda s: expenses.record_energy_cost(s, pid, "2026-11", "tower-a/meter-master/energy_kwh",
                                                      "1000.000", "0.86", date(2026, 11, 30), NOW))
    assert e.amount == 86000 and e.source.startswith("meter:")
    nov = db.call(lambda s: budgets.execution(s, pid, 2026, month=11))
    (row,) = nov["rows"]
    # 1,000,000 fen / 12 = 83,333.33 → months get 83,334 or 83,333 fen; 860.00 spent of 833.34 → 103 %, alert
    assert row["budget"] == "833.33" and row["actual"] == "860.00" and row["alert"] and nov["alerts"]
    q4 = db.call(lambda s: budgets.execution(s, pid, 2026, quarter=4))
    assert q4["rows"][0]["budget"] == "2499.99" and not q4["rows"][0]["alert"]


def test_a_reversed_invoice_cannot_be_paid(db, estate):
    e, _ = db.call(lambda s: expenses.record_invoice(s, estate["property_id"], "GardenCo", "G-9", "6405", 1000,
                                                     date(2026, 11, 2), NOW))
    db.call(lambda s: ledger.reverse(s, e.entry_id, date(2026, 11, 3), NOW, reason="duplicate invoice"))
    with pytest.raises(Conflict):
        db.call(lambda s: expenses.pay_invoice(s, e.id, "bank_transfer", date(2026, 11, 4), NOW))
    assert db.call(lambda s: ledger.balance(s, "2202")) == 0
