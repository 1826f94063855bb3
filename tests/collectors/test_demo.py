"""The demo property: simulators serve it, collectors fill every tag with Good values."""

from __future__ import annotations

import asyncio

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


@aio_test
async def test_demo_services_run_and_faults_reach_the_tags(demo_site, tmp_path):
    """The two services as the root builds them; fault injection seen through the tag DB."""
    from twisted.internet.defer import Deferred

    import collectors.service
    import collectors.simulators_service
    from tagdb.server.context import ServerContext

    ctx = ServerContext(site=demo_site, reactor=reactor, data_dir=tmp_path)
    ctx.tags = TagDatabase(demo_site.tags, reactor)
    sims = collectors.simulators_service.from_config(ctx)
    colls = collectors.service.from_config(ctx)
    assert sims.name == "simulators" and colls.name == "collectors"
    hub = ctx.provides["simulators"]
    db = ctx.tags

    async def run(d):
        if isinstance(d, Deferred):
            await d.asFuture(asyncio.get_running_loop())

    await run(sims.startService())
    await run(colls.startService())
    try:
        lift = "tower-a/elevator-1"
        await wait_until(lambda: all(db.get(p).quality.is_good for p in db.paths if p.startswith("tower-")
                                     and "/elevator-" in p), timeout=30, what="elevators Good")
        hub.inject_elevator_fault(lift, "entrapment")
        await wait_until(lambda: db.get(f"{lift}/fault_code").value == 3, timeout=10, what="entrapment seen")
        assert db.get(f"{lift}/running").value in (0, False)
        assert db.get(f"{lift}/door_state").value == 0
        hub.clear_elevator_fault(lift)
        await wait_until(lambda: db.get(f"{lift}/fault_code").value == 0, timeout=10, what="cleared")
        hub.freeze(f"{lift}/load_pct")
        await hub.set_status(f"{lift}/load_pct", 0x808C0000)
        await wait_until(lambda: db.get(f"{lift}/load_pct").quality.name == "BadSensorFailure", timeout=10,
                         what="OPC UA status kept as quality")

        # A write through the tag DB reaches the simulated chiller and reads back.
        res = await db.write("plant/chiller-1/setpoint", 6.5, user="test")
        assert res.ok, res
        assert hub.value("plant/chiller-1/setpoint") == 6.5
        await wait_until(lambda: db.get("plant/chiller-1/setpoint").value == 6.5, what="read back")

        # Chiller endpoint switched off: Bad (comm failure) within two 1 s scan periods.
        await wait_until(lambda: db.get("plant/chiller-1/supply_temp").quality.is_good, what="good")
        stopped = reactor.seconds()
        await hub.stop_device("plant-chiller-1")
        await wait_until(lambda: db.get("plant/chiller-2/supply_temp").quality.name == "BadCommunicationError",
                         timeout=5, what="bad")
        assert reactor.seconds() - stopped <= 2.0 + 0.5
        await hub.restart_device("plant-chiller-1")
        await wait_until(lambda: db.get("plant/chiller-1/supply_temp").quality.is_good, timeout=10, what="good again")

        hub.freeze("mall/ahu-1/supply_air_temp", 30.0)
        await wait_until(lambda: db.get("mall/ahu-1/supply_air_temp").value == pytest.approx(30.0), what="frozen")
        hub.set_exception("mall-ahu-2", 4)
        await wait_until(lambda: "server device failure" in db.get("mall/ahu-2/valve_pct").quality.detail,
                         what="exception seen")
        hub.set_exception("mall-ahu-2", None)
    finally:
        await run(colls.stopService())
        await run(sims.stopService())
