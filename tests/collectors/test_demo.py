"""The demo property: simulators serve it, collectors fill every tag with Good values."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from collectors.modbus.collector import ModbusCollector
from collectors.sim.demo import load_demo
from collectors.sim.hub import SimulatorHub
from collectors.testing import aio_test, wait_until
from tagdb.database import TagDatabase


@pytest.fixture(scope="module")
def demo_site():
    return load_demo()


def test_demo_has_the_promised_property(demo_site):
    classes = {}
    for e in demo_site.equipment:
        classes.setdefault(e.equipment_class, []).append(e)
    assert len(classes["elevator"]) == 6
    assert len(classes["chiller"]) == 2
    assert len(classes["ahu"]) == 4
    assert len(classes["lighting"]) == 20
    assert len(classes["parking-space"]) == 200
    assert len([e for e in classes["parking"] if "barrier" in e.id]) == 2
    assert len(classes["meter"]) >= 100
    assert {e.building for e in demo_site.equipment} >= {"tower-a", "tower-b", "mall", "plant", "car-park"}
    assert "tower-a/elevator-1/current_floor" in {t.path for t in demo_site.tags}
    assert "plant/chiller-1/supply_temp" in {t.path for t in demo_site.tags}
    assert "tower-a/meter-1201/energy_kwh" in {t.path for t in demo_site.tags}


@aio_test
async def test_every_modbus_tag_of_the_demo_becomes_good_and_matches_the_simulator(demo_site, tmp_path):
    hub = SimulatorHub(demo_site, reactor, tmp_path)
    db = TagDatabase(demo_site.tags, reactor)
    coll = ModbusCollector(demo_site, db, reactor)
    modbus_tags = [t.path for t in demo_site.tags if demo_site.devices[t.device].protocol == "modbus"]
    await hub.start()
    coll.start()
    try:
        await wait_until(lambda: all(db.get(p).quality.is_good for p in modbus_tags), timeout=30,
                         what="every Modbus tag Good")
        # The collector and the simulator agree (slow-moving points, read at the same moment).
        for p in ("plant/chiller-1/setpoint", "mall/ahu-1/valve_pct", "car-park/counters/entries",
                  "tower-a/lighting-1/command", "car-park/space-001/occupied"):
            assert db.get(p).value == pytest.approx(hub.value(p), abs=1e-3), p
        assert len(coll.devices) == sum(1 for d in demo_site.devices.values() if d.protocol == "modbus")
        assert len(coll.links) == 7            # one connection per endpoint, shared by its units
    finally:
        coll.stop()
        await hub.stop()
