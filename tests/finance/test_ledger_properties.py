"""Property tests: random sequences of bills, payments, prepayments, refunds, late fees and reversals
keep the books consistent (trial balance zero, receivables = open bill lines, cash flow = change in cash)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from business.finance import bills, ledger, payments, statements
from business.finance.billing import BillPlan, RunInput, post_run
from business.finance.errors import AlreadyReversed, Conflict
from business.finance.fees import LinePlan
from business.finance.models import Entry, Posting

from .conftest import build_estate

_day = itertools.count()
_ref = itertools.count()

amounts = st.integers(min_value=1, max_value=500_000)
op = st.one_of(
    st.tuples(st.just("bill"), st.integers(0, 3), amounts, st.integers(0, 100_000)),
    st.tuples(st.just("pay"), st.integers(0, 3), amounts, st.sampled_from(["cash", "card", "bank_transfer", "online"])),
    st.tuples(st.just("apply"), st.integers(0, 3)),
    st.tuples(st.just("refund"), st.integers(0, 3), amounts),
    st.tuples(st.just("late"), st.integers(1, 60)),
    st.tuples(st.just("reverse"), st.integers(0, 10_000)),
)


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    from business.database import Database
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}")
    db.migrate()
    estate = db.call(build_estate)
    yield db, estate
    db.stop()


def _apply(s, estate, ops, base: date):
    pid, units = estate["property_id"], estate["units"]
    cash_delta = 0
    for i, o in enumerate(ops):
        on = base + timedelta(days=i)
        now = datetime.combine(on, datetime.min.time(), timezone.utc) + timedelta(hours=3)
        kind = o[0]
        if kind == "bill":
            unit = units[o[1]]
            n = next(_ref)
            discount = min(o[3], o[2])
            lines = [LinePlan("mgmt", "charge", "1", "x", o[2], "5101")]
            if discount:
                lines.append(LinePlan("mgmt", "vacancy discount", "1", "x", -discount, "5101", kind="discount"))
            inp = RunInput(pid, f"P{n}", now, now, on, [], [], [], {})
            post_run(s, inp, [BillPlan(f"unit:{unit}", unit, None, estate["tower"], lines, 10, 2)],
                     {"period": f"P{n}"}, now)
        elif kind == "pay":
            payments.record_payment(s, pid, units[o[1]], o[2], o[3], now, on=on)
            cash_delta += o[2]
        elif kind == "apply":
            payments.apply_prepaid(s, pid, units[o[1]], now, on=on)
        elif kind == "refund":
            avail = payments.prepaid_balance(s, units[o[1]])
            if avail > 0:
                payments.refund(s, pid, units[o[1]], min(o[2], avail), "cash", now, on=on)
                cash_delta -= min(o[2], avail)
        elif kind == "late":
            bills.assess_late_fees(s, pid, on + timedelta(days=o[1]), Decimal("0.003"), Decimal("0.5"), now)
        elif kind == "reverse":
            ids = list(s.scalars(select(Entry.id).where(Entry.reverses_id.is_(None)).order_by(Entry.id)))
            if not ids:
                continue
            target = ids[o[1] % len(ids)]
            cash_before = sum(p.amount for p in s.scalars(select(Posting).where(
                Posting.entry_id == target, Posting.account.in_(("1001", "1002", "1012")))))
            try:
                with s.begin_nested():
                    ledger.reverse(s, target, on, now, reason="test")
                cash_delta -= cash_before
            except (AlreadyReversed, Conflict):
                pass
    return cash_delta


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=12))
def test_books_stay_consistent(books, ops):
    db, estate = books
    base = date(2027, 1, 1) + timedelta(days=40 * next(_day))
    # late fees may be dated up to 60 days after the last operation
    end = base + timedelta(days=len(ops) + 61)
    cash_delta = db.call(_apply, estate, ops, base)

    def check(s):
        tb = statements.trial_balance(s, date(2000, 1, 1), date(2100, 1, 1))
        assert tb["balanced"], tb["totals"]
        receivable = ledger.balance(s, "1122")
        open_sum = sum(o for _l, _b, o in bills.open_lines(s))
        assert receivable == open_sum
        for u in estate["units"]:
            assert payments.prepaid_balance(s, u) >= 0
        cf = statements.cash_flow(s, base, end)
        assert cf["reconciled"]
        assert cf["_net"] == cash_delta
        assert statements.balance_sheet(s, date(2100, 1, 1))["balanced"]
        # every entry balances on its own
        bad = s.execute(select(Posting.entry_id).group_by(Posting.entry_id)
                        .having(func.sum(Posting.amount) != 0)).all()
        assert bad == []
    db.call(check)


def test_postings_cannot_be_changed_or_deleted(books):
    db, estate = books
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 1234, "cash", now))
    for stmt in ("UPDATE fin_postings SET amount = amount + 1", "DELETE FROM fin_postings",
                 "UPDATE fin_entries SET memo = 'x'", "DELETE FROM fin_allocations"):
        with pytest.raises(Exception, match="append-only"):
            db.call(lambda s: s.execute(__import__("sqlalchemy").text(stmt)))


def test_unbalanced_entry_is_refused(books):
    db, _ = books
    from business.finance.errors import UnbalancedEntry
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with pytest.raises(UnbalancedEntry):
        db.call(lambda s: ledger.post(s, "x:1", "manual", now.date(), [ledger.Line("1001", 100),
                                                                       ledger.Line("5101", -99)], now))
    with pytest.raises(UnbalancedEntry):
        db.call(lambda s: ledger.post(s, "x:2", "manual", now.date(), [ledger.Line("9999", 100),
                                                                       ledger.Line("5101", -100)], now))


def test_an_entry_is_reversed_once(books):
    db, estate = books
    now = datetime(2026, 12, 3, tzinfo=timezone.utc)
    p, _ = db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][1], 777, "card", now))
    db.call(lambda s: ledger.reverse(s, p.entry_id, now.date(), now))
    with pytest.raises(AlreadyReversed):
        db.call(lambda s: ledger.reverse(s, p.entry_id, now.date(), now))
