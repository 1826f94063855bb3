"""The alarm summary and banner against the real alarm engine of the demo site (no browser)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

from alarms.service import AlarmSystem
from alarms.tables import create_tables
from collectors.sim.demo import load_demo
from hmi.alarms_view import AlarmSource, AlarmSummary, banner_html, counts_html
from tagdb.auth import Principal
from tagdb.database import TagDatabase
from tagdb.events import EventBus
from tagdb.values import GOOD, TagValue
from twisted.internet.task import Clock

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
LIFT = "tower-a/elevator-1/fault_code"
OPERATOR = Principal("op", frozenset({"operator"}), frozenset({"hmi.view", "hmi.command", "alarms.ack",
                                                                 "alarms.shelve"}))
VIEWER = Principal("tech", frozenset({"technician"}), frozenset({"hmi.view"}))


@pytest.fixture(scope="module")
def site():
    return load_demo(port_offset=0)


@pytest.fixture
def world(site):
    clock = Clock()
    clock.advance(T0.timestamp())
    db = TagDatabase(list(site.tags), clock)
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    create_tables(engine)
    system = AlarmSystem(site, clock, engine, tags=db, events=EventBus())
    system.start()
    db.update([TagValue(LIFT, 3, GOOD, T0, T0), TagValue("tower-b/elevator-1/emergency_call", True, GOOD, T0, T0)])
    clock.advance(0)
    clock.advance(1)
    yield system, clock
    system.stop()


def test_banner_and_counts_put_the_critical_alarms_first(world, site):
    system, _ = world
    src = AlarmSource(system.engine, site)
    html = banner_html(src, 3)
    assert f'data-alarm="{LIFT}:ENTRAPMENT"' in html and "CRITICAL" in html
    assert 'data-count="critical">2<' in counts_html(src)
    assert 'data-count="critical">1<' in counts_html(src, "tower-a")


def test_summary_filters_and_acknowledges_with_the_user_and_comment(world, site):
    system, _ = world
    summary = AlarmSummary(AlarmSource(system.engine, site), OPERATOR, lambda: None)
    ids = list(summary.grid.value["id"])
    assert f"{LIFT}:ENTRAPMENT" in ids and any(i.startswith("tower-b/elevator-1/emergency_call:") for i in ids)
    assert list(summary.grid.value["priority"])[:2] == ["critical", "critical"]
    summary.building.value = "tower-a"
    assert set(summary.grid.value["building"]) == {"tower-a"}
    summary.grid.selection = [list(summary.grid.value["id"]).index(f"{LIFT}:ENTRAPMENT")]
    summary._act("ack")
    assert "comment is required" in summary.result.object
    assert not system.engine.get(f"{LIFT}:ENTRAPMENT").acked
    summary.comment.value = "lift technician on the way"
    summary.grid.selection = [list(summary.grid.value["id"]).index(f"{LIFT}:ENTRAPMENT")]
    summary._act("ack")
    assert "1 acknowledged by op" in summary.result.object
    rec = system.engine.get(f"{LIFT}:ENTRAPMENT")
    assert rec.acked
    summary.building.value = "tower-b"
    summary.grid.selection = [0]
    summary.comment.value = "button stuck, known fault"
    summary.shelve_for.value = "1 h"
    summary._act("shelve")
    call = next(i for i in system.engine.records if i.startswith("tower-b/elevator-1/emergency_call:"))
    assert system.engine.get(call).shelved_by == "op"
    assert call not in list(summary.grid.value["id"])      # shelved alarms leave the annunciated list


def test_viewer_cannot_acknowledge_or_shelve(world, site):
    system, _ = world
    summary = AlarmSummary(AlarmSource(system.engine, site), VIEWER, lambda: None)
    assert summary.ack.disabled and summary.shelve.disabled
