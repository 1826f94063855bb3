"""Fee formulas: tiers, temporary parking (free minutes, first period, per period, daily cap), exact splits;
deposits and temporary-parking sales post balanced entries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from business.finance import ledger, payments
from business.finance.errors import Conflict
from business.finance.fees import temp_parking_fee, tiered
from business.finance.money import allocate, split_even

from .conftest import NOW

TARIFF = {"free_minutes": 15, "first_minutes": 60, "first_price": "5.00", "period_minutes": 60, "period_price": "2.00",
          "daily_cap": "30.00"}
TIERS = [{"upto": "200", "price": "0.55"}, {"upto": "400", "price": "0.60"}, {"price": "0.85"}]


@pytest.mark.parametrize("minutes,fen", [(0, 0), (15, 0), (16, 500), (60, 500), (61, 700), (180, 900),
                                         (24 * 60, 3000), (24 * 60 + 10, 3500), (3 * 24 * 60, 9000)])
def test_temporary_parking(minutes, fen):
    assert temp_parking_fee(minutes, TARIFF)[0] == fen


def test_tiers():
    assert tiered(Decimal("150"), TIERS)[0] == 8250
    assert tiered(Decimal("200"), TIERS)[0] == 11000
    assert tiered(Decimal("450.5"), TIERS)[0] == 11000 + 12000 + 4293     # 50.5 × 0.85 = 42.925 → 42.93 (half-up)


@settings(derandomize=True)
@given(st.integers(0, 10 ** 9), st.lists(st.decimals(min_value=0, max_value=10 ** 4, places=2), min_size=1, max_size=30))
def test_allocation_adds_up_exactly(total, weights):
    parts = allocate(total, weights)
    assert sum(parts) == (total if sum(weights) > 0 else 0) and all(p >= 0 for p in parts)
    assert sum(split_even(total, 12)) == total


def test_deposit_and_parking_sale(db, estate):
    pid, unit = estate["property_id"], estate["units"][0]
    db.call(lambda s: payments.record_deposit(s, pid, unit, 200000, "bank_transfer", NOW, "lease-1"))
    db.call(lambda s: payments.record_deposit(s, pid, unit, 200000, "bank_transfer", NOW, "lease-1"))   # once
    assert db.call(lambda s: ledger.balance(s, "2241")) == -200000
    with pytest.raises(Conflict):
        db.call(lambda s: payments.record_deposit(s, pid, unit, 200001, "bank_transfer", NOW, "lease-1", refund=True))
    db.call(lambda s: payments.record_deposit(s, pid, unit, 150000, "bank_transfer", NOW, "lease-1", refund=True))
    assert db.call(lambda s: ledger.balance(s, "2241")) == -50000
    entered = datetime(2026, 11, 20, 9, tzinfo=timezone.utc)
    fee, receipt = db.call(lambda s: payments.record_temp_parking(s, pid, "粤B12345", entered,
                                                                  entered + timedelta(minutes=125), TARIFF, "online", NOW))
    assert fee == 900 and receipt.receipt_no.startswith("R2026-")
    assert db.call(lambda s: (ledger.balance(s, "5106"), ledger.balance(s, "1012"))) == (-900, 900)
