"""Late fees (daily rate after grace, capped, own ledger lines) and dunning reminders through the real outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from alarms.notify import Outbox
from business.finance import bills, ledger, payments
from business.finance.dunning import due_reminders
from business.finance.models import BillLine, Reminder
from business.models import Person, Residency

from .conftest import NOW, RecordingEmail

RATE, CAP = Decimal("0.003"), Decimal("0.1")


def setup_bill(db, estate, amount=100000):
    e = estate
    # issued 2026-11-01, due in 10 days (2026-11-11), no grace in one_off: grace_until = due
    return db.call(lambda s: bills.charge_one_off(s, e["property_id"], e["units"][0], e["tower"], "mgmt", "5101",
                                                  amount, "management fee", date(2026, 11, 1), 10, NOW, "lf").id)


def late(db, estate, on):
    return db.call(lambda s: bills.assess_late_fees(s, estate["property_id"], on, RATE, CAP, NOW))


def late_total(db, bill_id):
    return db.call(lambda s: sum(ln.amount for ln in s.scalars(select(BillLine).where(
        BillLine.bill_id == bill_id, BillLine.kind == "late_fee"))))


def test_late_fee_accrues_daily_once_and_is_capped(db, estate):
    b = setup_bill(db, estate)
    assert late(db, estate, date(2026, 11, 11)) == []          # within grace: nothing
    late(db, estate, date(2026, 11, 16))                       # 5 days × 3‰ × 1000.00 = 15.00
    assert late_total(db, b) == 1500
    assert late(db, estate, date(2026, 11, 16)) == []          # same day again: nothing new
    late(db, estate, date(2026, 11, 21))                       # 10 days → 30.00 in total
    assert late_total(db, b) == 3000
    late(db, estate, date(2027, 3, 1))                         # capped at 10 % of the principal
    assert late_total(db, b) == 10000
    # own ledger lines: late-fee income, not management-fee revenue
    assert db.call(lambda s: (ledger.balance(s, "5201"), ledger.balance(s, "5101"))) == (-10000, -100000)


def test_late_fee_follows_the_open_principal(db, estate):
    b = setup_bill(db, estate)
    db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 50000, "cash",
                                              datetime(2026, 11, 5, tzinfo=timezone.utc), bill_ids=[b]))
    late(db, estate, date(2026, 11, 21))                       # 10 days on 500.00 open = 15.00
    assert late_total(db, b) == 1500


def test_reminders_before_due_at_due_and_overdue_go_through_the_outbox(db, estate):
    from twisted.internet.task import Clock
    b = setup_bill(db, estate)

    def people(s):
        p = Person(property_id=estate["property_id"], name="王芳", email="wang@example.com", preferred_channel="email")
        s.add(p)
        s.flush()
        s.add(Residency(unit_id=estate["units"][0], person_id=p.id, role="owner", share=Decimal(1),
                        moved_in=date(2020, 1, 1)))
    db.call(people)
    steps = [{"name": "before_due", "days": -3}, {"name": "due", "days": 0}, {"name": "overdue_7", "days": 7}]

    def remind(day):
        return db.call(lambda s: due_reminders(s, estate["property_id"], day, steps, NOW, {"email"}))
    assert remind(date(2026, 11, 7)) == []
    first = remind(date(2026, 11, 8))
    assert [m["recipient"] for m in first] == ["wang@example.com"] and "1000.00" in first[0]["subject"]
    assert remind(date(2026, 11, 9)) == []                     # each step once
    assert len(remind(date(2026, 11, 11))) == 1
    late = remind(date(2026, 11, 20))
    assert "overdue by 9 days" in late[0]["body"]
    assert db.call(lambda s: [r.step for r in s.scalars(select(Reminder).order_by(Reminder.id))]) == \
        ["before_due", "due", "overdue_7"]
    # the messages go through the alarm system's durable outbox (the one shared notification path)
    clock, channel = Clock(), RecordingEmail()
    outbox = Outbox(db.engine, clock, {"email": channel})
    from business.finance.app import FinanceApp
    app = FinanceApp(db, None, {}, lambda: NOW, "demo", outbox=lambda: outbox)
    assert app.enqueue(first + late) == 2
    clock.advance(1)
    assert [m.recipient for m in channel.sent] == ["wang@example.com"] * 2
    # paid bills get no more reminders
    db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 200000, "cash", NOW))
    assert remind(date(2026, 12, 31)) == []
