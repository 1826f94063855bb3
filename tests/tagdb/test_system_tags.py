"""System tags: the server's own health, refreshed by the tagdb service on the injected clock."""

from __future__ import annotations

import numpy as np
import pytest

from tagdb.database import TagDatabase
from tagdb.errors import TagDbError
from tagdb.server.context import ServerContext
from tagdb.service import from_config
from tagdb.site.model import DeviceSpec, SiteModel
from tagdb.system_tags import SystemTags, SystemTagsService
from tagdb.values import BAD_NOT_YET_READ, GOOD

from .conftest import run, spec


@pytest.fixture
def db(clock):
    return TagDatabase([spec(f"plc/t{i}") for i in range(100)], clock)


def values(db, prefix="_system/"):
    return {p: db.get(p).value for p in db.match(prefix)}


def test_core_tags_uptime_count_rates_subscribers(db, clock):
    system = SystemTags(db, clock)
    service = SystemTagsService(system, clock, interval=1.0)
    service.startService()
    v = values(db)
    assert v["_system/uptime_s"] == 0.0
    assert v["_system/tag_count"] == 105           # 100 + the 5 core tags
    assert v["_system/subscribers"] == 0
    db.subscribe("plc/", lambda batch: None)
    ids = db.ids([f"plc/t{i}" for i in range(100)])
    for k in range(4):                              # 400 samples in 2 s, 200 changes
        db.ingest(ids, np.full(100, float(k // 2)))
    clock.advance(1.0)
    clock.advance(1.0)
    v = values(db)
    assert v["_system/uptime_s"] == 2.0
    assert v["_system/subscribers"] == 1
    # Each refresh also writes the core tags themselves (5 updates, a few changes).
    assert v["_system/updates_per_s"] == pytest.approx(5.0)          # last second: only system tags
    clock.advance(0)
    service.stopService()
    clock.advance(10)
    assert db.get("_system/uptime_s").value == 2.0                   # stopped: no more refreshes
    assert db.get("_system/uptime_s").quality == GOOD


def test_rates_over_one_interval(db, clock):
    system = SystemTags(db, clock)
    system.refresh()                        # t=0: no interval yet; writes 3 core tags
    ids = db.ids([f"plc/t{i}" for i in range(100)])
    db.ingest(ids, np.arange(100.0))        # 100 changes
    db.ingest(ids, np.arange(100.0))        # 100 samples filtered out
    clock.advance(2.0)
    system.refresh()
    assert db.get("_system/updates_per_s").value == (3 + 200) / 2.0
    assert db.get("_system/changes_per_s").value == (3 + 100) / 2.0


def test_device_health_and_disconnect_count(db, clock):
    system = SystemTags(db, clock)
    system.declare_devices(["plc-1"])
    assert db.get("_system/devices/plc-1/connected").quality == BAD_NOT_YET_READ
    system.report_device("plc-1", True, response_ms=4.5, polls=10)
    system.report_device("plc-1", False, "timeout after 2.0 s")
    system.report_device("plc-1", False, "connection refused")
    system.report_device("plc-1", True)
    system.report_device("plc-1", False, "timeout")
    v = values(db, "_system/devices/plc-1/")
    assert v == {"_system/devices/plc-1/connected": False,
                 "_system/devices/plc-1/last_error": "timeout",
                 "_system/devices/plc-1/disconnects": 2,
                 "_system/devices/plc-1/response_ms": 4.5,
                 "_system/devices/plc-1/polls": 10}
    assert db.spec("_system/devices/plc-1/polls").data_type == "int64"
    assert not db.spec("_system/devices/plc-1/connected").writable


def test_components_publish_their_own_tags(db, clock):
    system = SystemTags(db, clock)
    seen = []
    db.subscribe("_system/historian/", seen.append)
    system.publish("historian", {"queued": 12, "last_error": "", "connected": True})
    remove = system.add_source("alarms", lambda: {"active": 3, "unacked": 1})
    system.add_source("broken", lambda: 1 / 0)
    system.refresh()
    assert db.get("_system/alarms/active").value == 3
    assert db.get("_system/historian/queued").value == 12
    clock.advance(0)
    assert {tv.path for tv in seen[0]} == {"_system/historian/queued", "_system/historian/last_error",
                                         "_system/historian/connected"}
    remove()
    system.add_source("alarms", lambda: {"active": 4})
    system.refresh()
    assert db.get("_system/alarms/active").value == 4
    with pytest.raises(TagDbError):
        system.publish("bad*name", {"x": 1})
    with pytest.raises(TagDbError):
        system.report_device("a/b", True)
    with pytest.raises(TagDbError):
        system.publish("historian", {"obj": object()})
    with pytest.raises(TagDbError):
        system.publish("historian", {"bad/*": 1})
    system.publish("historian", {"never_set": None, "queued": None})
    assert "_system/historian/never_set" not in db
    assert db.get("_system/historian/queued").value is None


def test_system_tags_are_read_only_for_writes(db, clock):
    SystemTags(db, clock).refresh()
    assert run(db.write("_system/uptime_s", 5.0, "alice")).status.value == "read_only"


def test_from_config_builds_the_database_and_the_named_service(clock, tmp_path):
    site = SiteModel(name="t", timezone="UTC", files=(), buildings=(),
                     devices={"plc-1": DeviceSpec("plc-1", "modbus", "tcp://127.0.0.1:5020")},
                     tags=(spec("plc/a", access="rw"), spec("plc/b")), equipment=(), sections={})
    ctx = ServerContext(site=site, reactor=clock, data_dir=tmp_path)
    service = from_config(ctx)
    assert service.name == "tagdb"
    assert ctx.tags.get("plc/a").quality == BAD_NOT_YET_READ
    assert "_system/devices/plc-1/connected" in ctx.tags
    assert ctx.provides["system_tags"] is not None
    service.startService()
    clock.advance(3)
    assert ctx.tags.get("_system/uptime_s").value == 3.0
    health = service.health()
    assert health["tags"] == len(ctx.tags) and health["subscribers"] == 0
    assert health["updates_per_s"] >= 0
    service.stopService()
    run(ctx.tags.write("plc/a", 1.0, "alice"))
    assert (tmp_path / "audit" / "writes.jsonl").exists()
    assert ctx.provides["write_audit"].recent(1)[0].user == "alice"
