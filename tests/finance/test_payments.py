"""Payments: oldest-first allocation, partial payments, prepayments, refunds, receipts, provider callbacks."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from business.finance import bills, ledger, payments, providers
from business.finance.errors import CallbackRefused, Conflict, ValidationError
from business.finance.models import Bill, Callback, Payment

from .conftest import NOW

SECRET = "test-provider-secret-0123456789"


def one_off(db, estate, unit_idx, amount, ref, on=date(2026, 11, 1)):
    e = estate
    return db.call(lambda s: bills.charge_one_off(s, e["property_id"], e["units"][unit_idx], e["tower"], "misc", "5107",
                                                  amount, f"charge {ref}", on, 10, NOW, ref).id)


def open_of(db, bill_id):
    return db.call(lambda s: sum(o for _l, _b, o in bills.open_lines(s, bill_ids=[bill_id])))


def test_partial_payment_goes_to_the_oldest_bill_and_the_rest_is_prepaid(db, estate):
    old = one_off(db, estate, 0, 10000, "a", date(2026, 9, 1))
    new = one_off(db, estate, 0, 20000, "b", date(2026, 10, 1))
    pid, unit = estate["property_id"], estate["units"][0]
    p1, _ = db.call(lambda s: payments.record_payment(s, pid, unit, 6000, "cash", NOW))
    assert (open_of(db, old), open_of(db, new)) == (4000, 20000)
    p2, _ = db.call(lambda s: payments.record_payment(s, pid, unit, 30000, "bank_transfer", NOW))
    assert (open_of(db, old), open_of(db, new)) == (0, 0)
    assert db.call(lambda s: payments.prepaid_balance(s, unit)) == 6000
    assert db.call(lambda s: [s.get(Bill, old).status, s.get(Bill, new).status]) == ["paid", "paid"]
    # receipts are numbered in sequence
    assert (p1.receipt_no, p2.receipt_no) == ("R2026-000001", "R2026-000002")
    # the prepayment is applied to the next bill when it is charged
    nxt = one_off(db, estate, 0, 5000, "c")
    db.call(lambda s: payments.apply_prepaid(s, pid, unit, NOW))
    assert open_of(db, nxt) == 0 and db.call(lambda s: payments.prepaid_balance(s, unit)) == 1000


def test_payment_to_a_named_bill(db, estate):
    old = one_off(db, estate, 1, 10000, "a", date(2026, 9, 1))
    new = one_off(db, estate, 1, 20000, "b", date(2026, 10, 1))
    db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][1], 20000, "card", NOW,
                                              bill_ids=[new]))
    assert (open_of(db, old), open_of(db, new)) == (10000, 0)


def test_refund_only_from_the_prepaid_balance(db, estate):
    pid, unit = estate["property_id"], estate["units"][2]
    db.call(lambda s: payments.record_payment(s, pid, unit, 5000, "cash", NOW))
    with pytest.raises(Conflict):
        db.call(lambda s: payments.refund(s, pid, unit, 5001, "cash", NOW))
    r = db.call(lambda s: payments.refund(s, pid, unit, 5000, "cash", NOW))
    assert r.amount == -5000 and r.receipt_no.startswith("F2026-")
    assert db.call(lambda s: (payments.prepaid_balance(s, unit), ledger.balance(s, "1001"))) == (0, 0)


def test_reversing_a_payment_reopens_the_bill(db, estate):
    b = one_off(db, estate, 0, 10000, "a")
    p, _ = db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 10000, "cash", NOW))
    db.call(lambda s: ledger.reverse(s, p.entry_id, NOW.date(), NOW, reason="cheque bounced"))
    assert open_of(db, b) == 10000
    assert db.call(lambda s: s.get(Bill, b).status) == "open"
    # a bill with payments on it cannot be voided before the payments are reversed
    p2, _ = db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 100, "cash", NOW))
    entry = db.call(lambda s: s.get(Bill, b).entry_id)
    with pytest.raises(Conflict):
        db.call(lambda s: ledger.reverse(s, entry, NOW.date(), NOW))


def test_money_is_never_a_float(db, estate):
    from business.finance.money import to_fen
    with pytest.raises(ValidationError):
        to_fen(12.5)
    assert to_fen("12.345") == 1235 and to_fen("0.005") == 1
    with pytest.raises(ValidationError):
        db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 12.5, "cash", NOW))


# -- provider callbacks ------------------------------------------------------------------------

def order_for(db, estate, bill_id, unit_idx=0):
    return db.call(lambda s: providers.create_order(s, "pay", estate["property_id"], estate["units"][unit_idx],
                                                    [bill_id], None, NOW).order_no)


def deliver(db, provider, payload, signature=None, now=NOW):
    body = json.dumps(payload).encode()
    headers = {"X-Signature": signature if signature is not None else provider.sign(body)}
    try:
        data = provider.verify(body, headers)
        return db.call(providers.settle_callback, "pay", data, body, now)
    except CallbackRefused as exc:
        db.call(providers.record_refused, "pay", body, exc.message, now, payload.get("order_no", ""))
        return {"outcome": "refused", "reason": exc.message}


def test_the_same_callback_twice_posts_once(db, estate):
    prov = providers.HmacProvider("pay", SECRET)
    b = one_off(db, estate, 0, 12345, "a")
    order = order_for(db, estate, b)
    msg = {"order_no": order, "transaction_id": "T1", "amount": "123.45"}
    assert deliver(db, prov, msg)["outcome"] == "accepted"
    assert deliver(db, prov, msg)["outcome"] == "duplicate"
    assert db.call(lambda s: len(s.scalars(select(Payment)).all())) == 1
    assert open_of(db, b) == 0
    assert db.call(lambda s: [c.outcome for c in s.scalars(select(Callback).order_by(Callback.id))]) == \
        ["accepted", "duplicate"]


def test_a_delivery_that_loses_the_race_to_a_concurrent_one_reports_duplicate(db, estate):
    """Two deliveries both pass the first duplicate check; the other one commits before ours posts."""
    from sqlalchemy import event
    prov = providers.HmacProvider("pay", SECRET)
    order = order_for(db, estate, one_off(db, estate, 0, 12345, "a"))
    body = json.dumps({"order_no": order, "transaction_id": "T1", "amount": "123.45"}).encode()
    data = prov.verify(body, {"X-Signature": prov.sign(body)})
    other = []

    def racing(s):
        seen = []

        def before(state):
            if state.is_select and Payment in [m.class_ for m in state.all_mappers]:
                seen.append(1)
                if len(seen) == 2:   # after our first check, before record_payment's own check
                    other.append(db.call(providers.settle_callback, "pay", data, body, NOW))
        event.listen(s, "do_orm_execute", before)
        return providers.settle_callback(s, "pay", data, body, NOW)

    ours = db.call(racing)
    assert other[0]["outcome"] == "accepted"
    assert ours == {"outcome": "duplicate", "receipt_no": other[0]["receipt_no"]}
    assert db.call(lambda s: len(s.scalars(select(Payment)).all())) == 1
    assert db.call(lambda s: [c.outcome for c in s.scalars(select(Callback).order_by(Callback.id))]) == \
        ["accepted", "duplicate"]


def test_bad_signature_and_wrong_amount_are_refused_and_recorded(db, estate):
    prov = providers.HmacProvider("pay", SECRET)
    b = one_off(db, estate, 0, 12345, "a")
    order = order_for(db, estate, b)
    forged = providers.HmacProvider("pay", "another-secret-0123456789abcdef")
    r1 = deliver(db, prov, {"order_no": order, "transaction_id": "T1", "amount": "123.45"},
                 signature=forged.sign(b"{}"))
    r2 = deliver(db, prov, {"order_no": order, "transaction_id": "T2", "amount": "1.00"})
    r3 = deliver(db, prov, {"order_no": order, "transaction_id": "T3", "amount": 123.45})   # a float amount
    r4 = deliver(db, prov, {"order_no": order, "transaction_id": "T4", "amount": "123.449"})  # not rounded to fit
    assert [r["outcome"] for r in (r1, r2, r3, r4)] == ["refused"] * 4
    assert "signature" in r1["reason"] and "does not match" in r2["reason"] and "decimal string" in r3["reason"]
    assert "fractions of a fen" in r4["reason"]
    rows = db.call(lambda s: [(c.outcome, c.reason) for c in s.scalars(select(Callback).order_by(Callback.id))])
    assert [o for o, _ in rows] == ["refused"] * 4
    assert db.call(lambda s: s.scalars(select(Payment)).all()) == []
    assert open_of(db, b) == 12345


def test_out_of_order_callbacks_and_a_bill_paid_meanwhile_at_the_counter(db, estate):
    prov = providers.HmacProvider("pay", SECRET)
    b1 = one_off(db, estate, 0, 10000, "a", date(2026, 9, 1))
    b2 = one_off(db, estate, 0, 20000, "b", date(2026, 10, 1))
    o1, o2 = order_for(db, estate, b1), order_for(db, estate, b2)
    # the second order's notification arrives first: it settles its own bill, not the older one
    assert deliver(db, prov, {"order_no": o2, "transaction_id": "T2", "amount": "200.00"})["outcome"] == "accepted"
    assert (open_of(db, b1), open_of(db, b2)) == (10000, 0)
    # the older bill is paid at the counter before the first order's callback arrives
    db.call(lambda s: payments.record_payment(s, estate["property_id"], estate["units"][0], 10000, "cash", NOW,
                                              bill_ids=[b1]))
    assert deliver(db, prov, {"order_no": o1, "transaction_id": "T1", "amount": "100.00"})["outcome"] == "accepted"
    # the money was received twice: the second receipt is held as a prepayment, nothing is lost
    assert db.call(lambda s: payments.prepaid_balance(s, estate["units"][0])) == 10000
    assert db.call(lambda s: ledger.balance(s, "1012") + ledger.balance(s, "1001")) == 40000
