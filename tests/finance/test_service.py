"""The finance job on an injected clock: late fees and reminders every check interval, through the outbox;
a failing run is logged once at ERROR and its recovery once at INFO."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timezone
from decimal import Decimal

from twisted.internet import reactor
from twisted.internet.task import Clock

from alarms.notify import Outbox
from business.database import Database
from business.finance import bills
from business.finance.app import FinanceApp
from business.finance.service import FinanceService
from business.models import Person, Residency
from collectors.testing import aio_test, wait_until

from .conftest import RecordingEmail, build_estate


@aio_test
async def test_periodic_late_fees_and_reminders(tmp_path, caplog):
    db = Database(f"sqlite:///{tmp_path / 'f.db'}", reactor=reactor)
    db.migrate()
    e = db.call(build_estate)
    now = datetime(2026, 11, 20, 2, tzinfo=timezone.utc)

    def setup(s):
        bills.charge_one_off(s, e["property_id"], e["units"][0], e["tower"], "mgmt", "5101", 100000, "fee",
                             date(2026, 11, 1), 10, now, "x")
        p = Person(property_id=e["property_id"], name="Li", email="li@example.com", preferred_channel="email")
        s.add(p)
        s.flush()
        s.add(Residency(unit_id=e["units"][0], person_id=p.id, role="owner", share=Decimal(1), moved_in=date(2020, 1, 1)))
    db.call(setup)
    clock, channel = Clock(), RecordingEmail()
    outbox = Outbox(db.engine, clock, {"email": channel})
    section = {"late_fee": {"daily_rate": "0.003", "cap": "1", "enabled": True},
               "dunning": {"enabled": True, "steps": [{"name": "overdue_7", "days": 7}], "check_every": 3600.0}}
    app = FinanceApp(db, type("Site", (), {"timezone": "Asia/Shanghai"})(), section, lambda: now, "demo",
                     outbox=lambda: outbox)
    svc = FinanceService(app, clock, 3600.0)
    svc.startService()
    try:
        assert channel.sent == []                     # nothing before the first interval
        clock.advance(3600)
        # the outbox delivers on its (injected) clock: let simulated time pass while waiting
        await wait_until(lambda: (clock.advance(0.1), channel.sent)[1] or None, 10, what="reminder delivered")
        assert [m.recipient for m in channel.sent] == ["li@example.com"] and "overdue by 9 days" in channel.sent[0].body
        # 9 days after the due date (grace = due for one-off bills) × 3‰ × 1000.00 = 27.00
        from business.finance.ledger import balance
        assert db.call(lambda s: balance(s, "5201")) == -2700
        # a failing run: one ERROR, then recovery at INFO
        app.db = None
        with caplog.at_level(logging.DEBUG, logger="business.finance.service"):
            clock.advance(3600)
            clock.advance(3600)
            app.db = db
            clock.advance(3600)
            await wait_until(lambda: any("recovered" in r.message for r in caplog.records), 10, what="recovery")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        clock.advance(3600)
    finally:
        stopped = svc.stopService()
        if stopped is not None:
            await stopped.asFuture(asyncio.get_running_loop())
        outbox.stop()
        db.stop()
    assert len(channel.sent) == 1                     # each step is sent once
