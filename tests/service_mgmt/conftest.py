"""Fixtures of the service-management suite: a migrated database on SQLite and the real
PostgreSQL, the business suite's small world, and an ``Orders`` service on an injected clock."""

from __future__ import annotations

import pytest

from business.database import Database
from business.service_mgmt.orders import Orders
from business.service_mgmt.schema import defaults

from .support import FakeClock, bc


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'business.db'}"
        return
    url, drop = bc.fresh_pg_database(request.getfixturevalue("pg_url"))
    yield url
    drop()


@pytest.fixture
def db(db_url):
    """A migrated database with four worker threads (so concurrency is real on PostgreSQL)."""
    database = Database(db_url, threads=4)
    database.migrate()
    yield database
    database.stop()


@pytest.fixture
def clock():
    """The injected UTC clock (starts 2026-11-02 09:00 Shanghai: the world's day shift is on)."""
    return FakeClock()


@pytest.fixture
def world(db, clock):
    """Property demo, towers A and B, staff sA (elevator, tower A) and sB (hvac, tower B) clocked in."""
    from business.crud import Crud
    from business.specs import SPECS

    return bc.build_world(db, Crud(SPECS, clock))


@pytest.fixture
def orders(db, clock):
    """The work-order service with escalations going to one manager."""
    return Orders(db, clock, defaults({"notify": {"managers": [{"channel": "email", "recipient": "boss@x.cn"}]}}))
