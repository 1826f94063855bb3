"""Fixtures of the HMI tests that build pages directly (no browser): the demo site and its real alarm engine."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from alarms.service import AlarmSystem
from alarms.tables import create_tables
from collectors.sim.demo import load_demo
from tagdb.database import TagDatabase
from tagdb.events import EventBus
from twisted.internet.task import Clock

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def site():
    """The demo site as configured (nothing here connects to its simulators)."""
    return load_demo(port_offset=0)


@pytest.fixture
def alarm_world(site):
    """The demo's real alarm engine, started on a fresh TagDatabase and in-memory alarm tables.

    Yields ``site``, ``db``, ``system``, ``clock`` (a task.Clock at ``t0``) and ``t0``; stops the engine after.
    Tests feed the tag values they need and advance the clock themselves.
    """
    clock = Clock()
    clock.advance(T0.timestamp())
    db = TagDatabase(list(site.tags), clock)
    # One shared in-memory connection: every session must see the same alarm tables.
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    create_tables(engine)
    system = AlarmSystem(site, clock, engine, tags=db, events=EventBus())
    system.start()
    yield SimpleNamespace(site=site, db=db, system=system, clock=clock, t0=T0)
    system.stop()
