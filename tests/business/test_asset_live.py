"""The asset live view against the real demo site, tag database and alarm engine (injected clock)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool
from twisted.internet.task import Clock

from business.asset_live import live_view
from tagdb.values import GOOD, TagValue

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


@pytest.fixture
def plant():
    alarms_service = pytest.importorskip("alarms.service")
    from alarms.tables import create_tables
    from tagdb.database import TagDatabase
    from tagdb.events import EventBus
    from tagdb.site.loader import load_site

    site = load_site(DEMO)
    clock = Clock()
    clock.advance(datetime(2026, 11, 2, 2, 0, tzinfo=timezone.utc).timestamp())
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    create_tables(engine)
    tags = TagDatabase(site.tags, clock)
    system = alarms_service.AlarmSystem(site, clock, engine, tags=tags, events=EventBus())
    system.start()
    clock.advance(0)
    yield SimpleNamespace(site=site, tags=tags, provides={"alarms": system.engine}), clock
    system.stop()


def put(ctx, clock, values: dict) -> None:
    now = datetime.fromtimestamp(clock.seconds(), timezone.utc)
    ctx.tags.update([TagValue(p, v, GOOD, now, now) for p, v in values.items()])
    clock.advance(0)
    clock.advance(0)


def test_live_view_shows_values_run_hours_and_active_alarms(plant):
    ctx, clock = plant
    eq = next(e for e in ctx.site.equipment if e.equipment_class == "elevator")
    asset = {"id": 7, "equipment_id": eq.id}
    fault = next(t for t in eq.tags if t.endswith("/fault_code"))
    hours = next(t for t in eq.tags if t.endswith("/run_hours"))
    put(ctx, clock, {fault: 0, hours: 4321.0})
    view = live_view(ctx, asset)
    assert view["linked"] and view["alarms_available"] and view["alarms"] == []
    assert view["values"] and all(v["path"] in eq.tags for v in view["values"])
    assert any(v["path"] == fault and v["value"] == 0 and v["good"] for v in view["values"])
    assert view["run_hours"] == 4321.0
    put(ctx, clock, {fault: 3})                    # entrapment: critical, no delay
    view = live_view(ctx, asset)
    assert [a["priority"] for a in view["alarms"]] == ["critical"]
    assert view["alarms"][0]["id"].endswith("ENTRAPMENT")
    other = next(e for e in ctx.site.equipment if e.equipment_class == "elevator" and e.id != eq.id)
    assert live_view(ctx, {"id": 8, "equipment_id": other.id})["alarms"] == []
    missing = live_view(ctx, {"id": 9, "equipment_id": "nowhere/nothing"})
    assert not missing["linked"] and "not in the site" in missing["error"]
