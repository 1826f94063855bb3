"""Fixtures of the finance suite: a migrated database (SQLite and the real PostgreSQL), a small estate
with fee items, and an in-memory history that answers ``value_at`` like the historian."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from business.finance.accounts import ensure_chart
from business.finance.setup import sync_fee_items
from business.models import Building, ParkingSpace, Property, Unit

from tests.business.helpers import db_url, fresh_pg_database, migrated_database  # noqa: E402,F401 (db_url: fixture)

NOW = datetime(2026, 12, 2, 2, 0, tzinfo=timezone.utc)

FEE_ITEMS = [
    {"code": "mgmt", "name": "Property management fee", "kind": "gross_area", "params": {"price": "2.85",
     "vacancy_discount": "0.5"}, "account": "5101", "due_days": 15, "grace_days": 5},
    {"code": "elec", "name": "Electricity", "kind": "metered", "account": "5102",
     "params": {"tag": "energy_kwh", "tiers": [{"upto": "200", "price": "0.55"}, {"upto": "400", "price": "0.60"},
                                                {"price": "0.85"}]}},
    {"code": "water", "name": "Water", "kind": "metered", "account": "5103",
     "params": {"tag": "water_m3", "price": "4.20"}},
    {"code": "common-elec", "name": "Common-area electricity", "kind": "shared", "account": "5104",
     "params": {"master": "tower-a/meter-master/energy_kwh", "sub_meters": ["tower-a/meter-201/energy_kwh",
                "tower-a/meter-202/energy_kwh"], "price": "0.60", "buildings": ["tower-a"]}},
    {"code": "rubbish", "name": "Refuse collection", "kind": "fixed", "params": {"amount": "15"}, "account": "5107"},
    {"code": "parking", "name": "Parking space rental", "kind": "parking_monthly", "params": {"price": "300",
     "kinds": ["rented"]}, "account": "5105"},
]


def drive(coro):
    """Run a coroutine that never suspends (FakeHistory answers at once) without an event loop."""
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("coroutine suspended: use a real reactor for this one")


class RecordingEmail:
    """An ``email`` notification channel that keeps every message the outbox delivers."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list = []

    async def send(self, message) -> None:
        self.sent.append(message)


class FakeHistory:
    """Answers ``value_at`` from a dict of path → [(ts, value, quality)] like the historian's sinks."""

    def __init__(self) -> None:
        self.points: dict[str, list] = {}

    def add(self, path, ts, value, quality=None):
        from tagdb.values import GOOD
        self.points.setdefault(path, []).append((ts, value, quality or GOOD))
        self.points[path].sort(key=lambda p: p[0])

    async def value_at(self, path, ts):
        from tagdb.contracts import HistoryPoint
        best = None
        for t, v, q in self.points.get(path, ()):
            if t <= ts:
                best = HistoryPoint(path=path, ts=t, value=v, quality=q)
        return best


@pytest.fixture
def sqlite_db(tmp_path):
    """A migrated SQLite database only (fast tests)."""
    yield from migrated_database(f"sqlite:///{tmp_path / 'fin.db'}")


@pytest.fixture
def db(db_url):
    """A migrated database on each backend."""
    yield from migrated_database(db_url)


def build_estate(s, fee_items=FEE_ITEMS) -> dict:
    """Property demo, tower-a with 4 units (one vacant), a car park with 2 spaces (one rented)."""
    prop = Property(code="demo", name="Demo", timezone="Asia/Shanghai")
    s.add(prop)
    s.flush()
    ta = Building(property_id=prop.id, code="tower-a", name="Tower A", floors=3)
    cp = Building(property_id=prop.id, code="car-park", name="Car park", use="parking")
    s.add_all([ta, cp])
    s.flush()
    units = []
    for code, gross, status in (("0201", "89.50", "occupied"), ("0202", "120.00", "occupied"),
                                ("0301", "96.25", "vacant"), ("0302", "135.00", "rented")):
        u = Unit(property_id=prop.id, building_id=ta.id, code=code, floor=int(code[:2]), gross_area=Decimal(gross),
                 inner_area=(Decimal(gross) * Decimal("0.78")).quantize(Decimal("0.01")), status=status)
        s.add(u)
        units.append(u)
    s.flush()
    spaces = [ParkingSpace(property_id=prop.id, building_id=cp.id, unit_id=units[0].id, code="B1-001", kind="rented"),
              ParkingSpace(property_id=prop.id, building_id=cp.id, code="B1-002", kind="owned")]
    s.add_all(spaces)
    s.flush()
    ensure_chart(s)
    sync_fee_items(s, prop.id, fee_items)
    return {"property_id": prop.id, "units": [u.id for u in units], "tower": ta.id, "spaces": [x.id for x in spaces]}


@pytest.fixture
def estate(db):
    """The small estate on each backend."""
    return db.call(build_estate)
