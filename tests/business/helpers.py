"""Helpers shared by the business, service-management and finance suites: the fake clock, fresh
PostgreSQL databases, the ``db_url``/``clock`` fixtures, and the small world built through the CRUD layer.

Conftests import the fixtures from here so pytest registers them in each suite.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from business.crud import Crud
from business.database import Database
from business.permissions import principal_for

_counter = itertools.count()
RUN = secrets.token_hex(4)


class FakeClock:
    """An injectable UTC clock for lockout, expiry and audit timestamps."""

    def __init__(self, start: datetime = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        from datetime import timedelta
        self.now += timedelta(**kw)


def fresh_pg_database(pg_url: str) -> tuple[str, callable]:
    """CREATE DATABASE spms_test_<run>_<n>; returns its URL and a drop function."""
    name = f"spms_test_{RUN}_{next(_counter)}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return url, drop


def migrated_database(url: str, **kw):
    """Yield a migrated :class:`Database` on ``url`` (no reactor: tests call ``db.call``), stopped afterwards."""
    database = Database(url, **kw)
    database.migrate()
    yield database
    database.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'business.db'}"
        return
    url, drop = fresh_pg_database(request.getfixturevalue("pg_url"))
    yield url
    drop()


@pytest.fixture
def clock():
    """The injected UTC clock (starts 2026-11-02 09:00 Shanghai: the world's day shift is on)."""
    return FakeClock()


ADMIN = principal_for("root", [("admin", "*")])


def build_world(db: Database, crud: Crud) -> dict:
    """Property demo with towers A and B, one unit each with an owner, staff and assets in both."""
    w: dict = {}

    def make(s):
        c = lambda name, body: crud.create(s, ADMIN, name, body)["id"]  # noqa: E731
        w["prop"] = c("properties", {"code": "demo", "name": "Demo Estate"})
        w["other_prop"] = c("properties", {"code": "other", "name": "Other Estate"})
        w["bA"] = c("buildings", {"property_id": w["prop"], "code": "tower-a", "name": "Tower A", "floors": 30})
        w["bB"] = c("buildings", {"property_id": w["prop"], "code": "tower-b", "name": "Tower B", "floors": 30})
        w["uA"] = c("units", {"building_id": w["bA"], "code": "1201", "floor": 12, "gross_area": "89.50",
                              "inner_area": "71.20"})
        w["uA2"] = c("units", {"building_id": w["bA"], "code": "1202", "floor": 12, "gross_area": "96.00",
                               "inner_area": "75.00"})
        w["uB"] = c("units", {"building_id": w["bB"], "code": "0801", "floor": 8, "gross_area": "118.25",
                              "inner_area": "92.10"})
        w["pA"] = c("people", {"property_id": w["prop"], "name": "张伟", "phone": "13800000001"})
        w["pA2"] = c("people", {"property_id": w["prop"], "name": "李娜", "phone": "13800000003"})
        w["pB"] = c("people", {"property_id": w["prop"], "name": "王芳", "phone": "13800000002"})
        w["rA"] = c("residencies", {"unit_id": w["uA"], "person_id": w["pA"], "role": "owner", "share": "1",
                                    "moved_in": "2020-05-01"})
        w["rA2"] = c("residencies", {"unit_id": w["uA2"], "person_id": w["pA2"], "role": "owner", "share": "1",
                                     "moved_in": "2020-05-01"})
        w["rB"] = c("residencies", {"unit_id": w["uB"], "person_id": w["pB"], "role": "owner", "share": "1",
                                    "moved_in": "2021-03-15"})
        w["lA"] = c("leases", {"unit_id": w["uA"], "person_id": w["pA"], "start_date": "2026-01-01",
                               "end_date": "2026-12-31", "monthly_rent": "4500.00"})
        w["lB"] = c("leases", {"unit_id": w["uB"], "person_id": w["pB"], "start_date": "2026-01-01",
                               "end_date": "2026-12-31", "monthly_rent": "5200.00"})
        w["vA"] = c("vehicles", {"person_id": w["pA"], "unit_id": w["uA"], "plate": "沪A12345"})
        w["vB"] = c("vehicles", {"person_id": w["pB"], "unit_id": w["uB"], "plate": "沪B54321"})
        w["parkA"] = c("parking", {"building_id": w["bA"], "code": "B1-001", "unit_id": w["uA"]})
        w["parkB"] = c("parking", {"building_id": w["bB"], "code": "B1-002", "unit_id": w["uB"]})
        w["caA"] = c("common_areas", {"building_id": w["bA"], "code": "tower-a/lobby", "name": "Lobby A",
                                      "area": "320.00"})
        w["caB"] = c("common_areas", {"building_id": w["bB"], "code": "tower-b/lobby", "name": "Lobby B",
                                      "area": "300.00"})
        w["dep"] = c("departments", {"property_id": w["prop"], "code": "eng", "name": "工程部"})
        w["pos"] = c("positions", {"department_id": w["dep"], "code": "tech", "name": "技工"})
        w["sA"] = c("staff", {"building_id": w["bA"], "employee_no": "E0001", "name": "赵工", "skills": ["elevator"],
                              "department_id": w["dep"], "position_id": w["pos"]})
        w["sB"] = c("staff", {"building_id": w["bB"], "employee_no": "E0002", "name": "钱工", "skills": ["hvac"]})
        w["shift"] = c("shifts", {"property_id": w["prop"], "code": "day", "name": "白班", "start": "08:00",
                                  "end": "17:00"})
        w["rosA"] = c("roster", {"staff_id": w["sA"], "shift_id": w["shift"], "day": "2026-11-02"})
        w["rosB"] = c("roster", {"staff_id": w["sB"], "shift_id": w["shift"], "day": "2026-11-02"})
        w["clkA"] = c("attendance", {"staff_id": w["sA"], "kind": "in", "at": "2026-11-02T08:20:00+08:00"})
        w["clkB"] = c("attendance", {"staff_id": w["sB"], "kind": "in", "at": "2026-11-02T07:55:00+08:00"})
        w["revA"] = c("reviews", {"staff_id": w["sA"], "period": "2026-Q3", "score": "88.50"})
        w["revB"] = c("reviews", {"staff_id": w["sB"], "period": "2026-Q3", "score": "91.00"})
        w["aA"] = c("assets", {"building_id": w["bA"], "code": "EL-A1", "name": "Elevator A1", "category": "elevator",
                               "equipment_id": "tower-a/elevator-1", "purchase_price": "680000.00"})
        w["aB"] = c("assets", {"building_id": w["bB"], "code": "EL-B1", "name": "Elevator B1", "category": "elevator"})
        w["mA"] = c("maintenance", {"asset_id": w["aA"], "kind": "repair", "performed_at": "2026-10-01T10:00:00Z",
                                    "cost": "1200.50"})
        w["mB"] = c("maintenance", {"asset_id": w["aB"], "kind": "inspection", "performed_at": "2026-10-02T10:00:00Z"})
    db.call(make)
    return w
