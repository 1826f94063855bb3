"""Fixtures of the business suite: a migrated database on SQLite and on the real PostgreSQL,
and a small world (property, two buildings, units, people, staff, assets) built through the CRUD layer.

The shared pieces live in ``helpers.py``; the names are re-exported here for the suite's modules."""

from __future__ import annotations

import pytest

from business.crud import Crud
from business.specs import SPECS

from .helpers import ADMIN, FakeClock, build_world, clock, db_url, fresh_pg_database, migrated_database

__all__ = ["ADMIN", "FakeClock", "build_world", "clock", "db_url", "fresh_pg_database"]


@pytest.fixture
def db(db_url):
    """A migrated database (no reactor: tests call ``db.call`` directly)."""
    yield from migrated_database(db_url)


@pytest.fixture
def crud(clock):
    return Crud(SPECS, clock)


@pytest.fixture
def world(db, crud):
    return build_world(db, crud)
