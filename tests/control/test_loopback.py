"""Control against the simulators over real loopback Modbus: the whole service tree, real reactor.

The tag server runs tagdb → control → simulators → collectors as in production;
the AHU simulator serves Modbus on a free loopback port with a short thermal
time constant so the loop settles within seconds of real time.
"""

from __future__ import annotations

import asyncio

from twisted.internet import reactor

from collectors.testing import aio_test, free_port, wait_until
from control import _async
from tagdb.auth import Principal
from tagdb.server.root import Component, build_root
from tagdb.site.loader import load_site

OPERATOR = Principal("op-1", permissions=frozenset({"tags.write"}))
COMPONENTS = tuple(Component(n, m, lambda s: True) for n, m in (
    ("tagdb", "tagdb.service"), ("control", "control.service"),
    ("simulators", "collectors.simulators_service"), ("collectors", "collectors.service")))

SITE = """
site: {{name: loopback, timezone: Asia/Shanghai, data_dir: var}}
templates:
  ahu:
    class: ahu
    tags:
      - {{name: fan_cmd, type: bool, address: "co:0", access: rw}}
      - {{name: fan_status, type: bool, address: "di:0"}}
      - {{name: valve_pct, type: float32, address: "hr:0", units: "%", range: [0, 100], access: rw}}
      - {{name: sat_setpoint, type: float32, address: "hr:2", access: rw, range: [10, 25]}}
      - {{name: supply_air_temp, type: float32, address: "ir:0"}}
devices:
  ahu-1: {{protocol: modbus, endpoint: "tcp://127.0.0.1:{port}", unit_id: 1, timeout: 0.5, retries: 0, scan_groups: {{default: 0.25s}}}}
equipment:
  - {{id: mall/ahu-1, template: ahu, name: AHU 1, device: ahu-1}}
simulators:
  seed: 7
  step: 0.25s
  instances:
    ahus: {{kind: ahus, endpoint: "tcp://127.0.0.1:{port}", params: {{tau: 8, valve_pct: 0}}}}
control:
  readback_timeout: 3s
  loops:
    sat:
      pv: mall/ahu-1/supply_air_temp
      out: mall/ahu-1/valve_pct
      sp_tag: mall/ahu-1/sat_setpoint
      kp: 6
      ti: 6s
      action: direct
      rate_limit: 40
      interval: 0.25s
      bad_pv: safe
      safe_output: 50
      enable: "{{mall/ahu-1/fan_status}}"
      disabled_output: 0
"""


@aio_test
async def test_loop_over_modbus_and_commands_with_read_back(tmp_path):
    (tmp_path / "site.yaml").write_text(SITE.format(port=free_port()))
    site = load_site(tmp_path)
    root = build_root(site, reactor, tmp_path / "var", components=COMPONENTS)
    ctx = root.context
    await root.startService().asFuture(asyncio.get_running_loop())
    try:
        db, hub, engine = ctx.tags, ctx.provides["simulators"], ctx.provides["control"]
        model = hub.models["ahu-1"]
        await wait_until(lambda: db.get("mall/ahu-1/supply_air_temp").quality.is_good, what="first poll")
        assert db.get("mall/ahu-1/supply_air_temp").value > 20.0

        # An operator changes the setpoint through the command path: confirmed by the device.
        async def command(path, value):
            return await _async.wait(_async.start(engine.commands.execute(OPERATOR, path, value,
                                                                          reason="loopback test")))
        record = await command("mall/ahu-1/sat_setpoint", 16.0)
        assert record.status == "done" and record.readback == 16.0 and model.get("sat_setpoint") == 16.0

        # The loop writes the valve over Modbus until the supply air holds at setpoint.
        def settled():
            return abs(db.get("mall/ahu-1/supply_air_temp").value - 16.0) <= 0.5 and \
                abs(model.get("supply_air_temp") - 16.0) <= 0.5
        await wait_until(settled, timeout=60, what=f"supply air at setpoint ({engine.loop('sat').state})")
        assert model.get("valve_pct") > 10.0
        assert db.get("_system/control/loops/sat/status").value == "ok"
        assert db.get("_system/control/loops/sat/write").value == "ok"

        # The device goes away: the loop raises its alarm and commands fail at once, not queued.
        await hub.stop_device("ahu-1")
        await wait_until(lambda: db.get("mall/ahu-1/supply_air_temp").quality.is_bad, timeout=10,
                         what="comm failure detected")
        await wait_until(lambda: engine.loop("sat").state.alarm, timeout=5, what="loop alarm")
        t0 = reactor.seconds()
        record = await command("mall/ahu-1/sat_setpoint", 17.0)
        assert record.status == "failed" and "unreachable" in record.message
        assert reactor.seconds() - t0 < 0.5
        await hub.restart_device("ahu-1")
        await wait_until(lambda: db.get("mall/ahu-1/supply_air_temp").quality.is_good, timeout=15,
                         what="device back")
        await wait_until(lambda: not engine.loop("sat").state.alarm, timeout=5, what="alarm cleared")
        assert model.get("sat_setpoint") == 16.0          # the failed command never fired later
    finally:
        await root.stopService().asFuture(asyncio.get_running_loop())
