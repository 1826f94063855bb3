"""Fixtures of the service-management suite: a migrated database on SQLite and the real
PostgreSQL, the business suite's small world, and an ``Orders`` service on an injected clock."""

from __future__ import annotations

import pytest

from business.service_mgmt.orders import Orders
from business.service_mgmt.schema import defaults

from .support import bc

clock = bc.clock
db_url = bc.db_url


@pytest.fixture
def db(db_url):
    """A migrated database with four worker threads (so concurrency is real on PostgreSQL)."""
    yield from bc.migrated_database(db_url, threads=4)


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
