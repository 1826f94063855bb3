"""PID loops on the real TagDatabase with an injected clock and a fake device."""

from __future__ import annotations

import math

import pytest

from control.commands import SYSTEM
from control.engine import ControlEngine, LoopAlarm
from tagdb.events import EventBus
from tagdb.values import BAD_COMM_FAILURE, WriteStatus

from .helpers import ZONE_LOOP, FakeDevice, loop_rig, make_db, put, section, spec

LOOP = ZONE_LOOP + """\
    bad_pv: {bad_pv}
    safe_output: 15
"""


class Plant:
    """First-order heating zone: temp → 15 + 0.1·valve with a 30 s time constant."""

    def __init__(self, temp: float = 18.0, bias: float = 0.0) -> None:
        self.temp, self.valve, self.bias = temp, 0.0, bias

    def step(self, dt: float) -> None:
        target = 15.0 + 0.1 * self.valve + self.bias
        self.temp += (target - self.temp) * dt / 30.0


def run(db, clock, plant, seconds, pv="z/temp", out="z/valve", dev=None):
    for _ in range(int(seconds)):
        if dev is not None and dev.writes:
            plant.valve = dev.last(out)
        plant.step(1.0)
        put(db, clock, {pv: plant.temp})
        clock.advance(1.0)


def test_loop_controls_and_publishes_state():
    db, clock, dev, engine = loop_rig(LOOP.format(bad_pv="hold"))
    plant = Plant()
    put(db, clock, {"z/temp": plant.temp, "z/valve": 0.0})
    engine.start()
    run(db, clock, plant, 600, dev=dev)
    assert plant.temp == pytest.approx(21.0, abs=0.1)
    state = db.snapshot([f"_system/control/loops/zone/{f}" for f in ("mode", "sp", "pv", "out", "status", "alarm")])
    assert state["_system/control/loops/zone/mode"].value == "auto"
    assert state["_system/control/loops/zone/status"].value == "ok"
    assert state["_system/control/loops/zone/sp"].value == 21.0
    assert state["_system/control/loops/zone/out"].value == pytest.approx(60.0, abs=2.0)
    assert state["_system/control/loops/zone/alarm"].value is False
    engine.stop()


def test_writes_are_audited_as_the_loop_user():
    from tagdb.audit import MemoryAuditSink
    from tagdb.database import TagDatabase

    audit = MemoryAuditSink()
    db, clock = make_db([])
    db = TagDatabase([spec("z/temp", access="r"), spec("z/valve")], clock, audit=audit)
    FakeDevice(db, clock)
    engine = ControlEngine(section(LOOP.format(bad_pv="hold")), db, clock)
    put(db, clock, {"z/temp": 18.0})
    engine.start()
    clock.advance(1.0)
    assert audit.records and {a.user for a in audit.records} == {"control:zone"}
    engine.stop()


@pytest.mark.parametrize("mode", ["safe", "hold"])
def test_bad_pv_holds_or_goes_safe_and_raises_alarm(mode):
    bus = EventBus()
    alarms: list[LoopAlarm] = []
    bus.subscribe(LoopAlarm, alarms.append)
    db, clock, dev, engine = loop_rig(LOOP.format(bad_pv=mode), events=bus)
    plant = Plant()
    put(db, clock, {"z/temp": plant.temp})
    engine.start()
    run(db, clock, plant, 30, dev=dev)
    held = dev.last("z/valve")
    assert held > 15.0
    db.set_quality(["z/temp"], BAD_COMM_FAILURE.with_detail("sensor cable"))
    db.flush()
    n_writes = len(dev.writes)
    for _ in range(20):
        clock.advance(1.0)
    loop = engine.loop("zone")
    assert loop.state.status == "bad_pv" and loop.state.alarm
    expected = 15.0 if mode == "safe" else held
    assert dev.last("z/valve") == pytest.approx(expected)
    # Never acts on the Bad value: at most the one write to the safe output.
    assert len(dev.writes) - n_writes == (1 if mode == "safe" else 0)
    assert [a.active for a in alarms] == [True]
    assert db.get("_system/control/loops/zone/alarm").value is True
    assert math.isnan(db.get("_system/control/loops/zone/pv").value)
    # PV back: alarm clears and control resumes from the held/safe output without a bump.
    put(db, clock, {"z/temp": plant.temp})
    clock.advance(1.0)
    assert [a.active for a in alarms] == [True, False]
    assert abs(dev.last("z/valve") - expected) < 8 * abs(21.0 - plant.temp) + 1.0
    engine.stop()


def test_bumpless_manual_to_auto_through_the_command_path():
    db, clock, dev, engine = loop_rig(LOOP.format(bad_pv="hold"))
    plant = Plant()
    put(db, clock, {"z/temp": plant.temp})
    engine.start()

    def command(field, value):
        d = __import__("control._async", fromlist=["start"]).start(
            engine.commands.execute(SYSTEM, f"_system/control/loops/zone/{field}", value))
        out = []
        d.addCallback(out.append)
        assert out, "internal commands complete at once"
        return out[0]

    assert command("mode", "manual").ok
    assert command("out", 40.0).ok
    run(db, clock, plant, 120, dev=dev)
    assert dev.last("z/valve") == 40.0
    assert plant.temp < 20.0          # PV well below SP: a proportional bump would be 8 * error
    error = 21.0 - plant.temp
    assert command("mode", "auto").ok
    run(db, clock, plant, 1, dev=dev)
    first_auto = dev.last("z/valve")
    # The first Auto output moves by at most one integral step, not kp * error.
    assert abs(first_auto - 40.0) <= 8.0 * 1.0 / 40.0 * error + 0.5
    assert 8.0 * error > 5.0
    refused = command("out", 50.0)
    assert refused.status == "refused" and "manual" in refused.message
    engine.stop()


def test_tracking_when_output_is_forced():
    yaml_text = LOOP.format(bad_pv="hold") + "    track: '{z/hand}'\n"
    db, clock, dev, engine = loop_rig(yaml_text, [spec("z/hand", "bool", access="r")])
    plant = Plant()
    put(db, clock, {"z/temp": plant.temp, "z/hand": False})
    engine.start()
    run(db, clock, plant, 20, dev=dev)
    put(db, clock, {"z/hand": True, "z/valve": 70.0})     # forced to 70 % at the panel
    n = len(dev.writes)
    run(db, clock, plant, 30)
    assert len(dev.writes) == n                              # the loop does not fight the hand switch
    assert engine.loop("zone").state.status == "tracking"
    assert engine.loop("zone").pid.output == 70.0
    put(db, clock, {"z/hand": False})
    run(db, clock, plant, 1, dev=dev)
    assert abs(dev.last("z/valve") - 70.0) < 2.0             # bumpless back to Auto
    engine.stop()


CASCADE = """
loops:
  room:
    pv: r/temp
    sp: 22.0
    sp_loop: null
    kp: 3
    ti: 120s
    out_min: 14
    out_max: 30
    interval: 5s
  supply:
    pv: r/supply
    out: r/valve
    sp_loop: room
    kp: 6
    ti: 20s
    out_min: 0
    out_max: 100
"""


def test_cascade_master_output_is_slave_setpoint():
    db, clock = make_db([spec("r/temp", access="r"), spec("r/supply", access="r"), spec("r/valve")])
    dev = FakeDevice(db, clock)
    engine = ControlEngine(section(CASCADE), db, clock)
    room, supply = 18.0, 15.0
    put(db, clock, {"r/temp": room, "r/supply": supply})
    engine.start()
    slave = engine.loop("supply")
    assert slave.state.mode == "cascade"
    for _ in range(2400):
        valve = dev.last("r/valve") if dev.writes else 0.0
        supply += ((12.0 + 0.2 * valve) - supply) / 10.0     # fast inner plant
        room += (supply - 2.0 - room) / 200.0                   # slow outer plant
        put(db, clock, {"r/temp": room, "r/supply": supply})
        clock.advance(1.0)
    assert room == pytest.approx(22.0, abs=0.2)
    assert slave.state.sp == pytest.approx(engine.loop("room").pid.output, abs=1e-6)
    assert slave.state.sp == pytest.approx(24.0, abs=0.5)
    # Slave to manual: the master tracks the slave's setpoint (no windup while open).
    slave.set_mode("manual")
    for _ in range(50):
        clock.advance(1.0)
    assert engine.loop("room").state.status == "tracking_slave"
    assert engine.loop("room").pid.output == pytest.approx(slave.state.sp, abs=1e-6)
    slave.set_mode("cascade")
    clock.advance(5.0)
    assert engine.loop("room").state.status == "ok"
    engine.stop()


def test_write_failure_is_published_and_retried():
    db, clock, dev, engine = loop_rig(LOOP.format(bad_pv="hold"))
    put(db, clock, {"z/temp": 18.0})
    dev.refuse = WriteStatus.DEVICE_EXCEPTION
    engine.start()
    clock.advance(1.0)
    assert db.get("_system/control/loops/zone/write").value.startswith("device_exception")
    dev.refuse = None
    put(db, clock, {"z/temp": 18.01})
    clock.advance(1.0)
    assert dev.writes and engine.loop("zone").state.write == "ok"
    engine.stop()


def test_no_alarm_and_no_write_before_the_first_reading():
    db, clock, dev, engine = loop_rig(LOOP.format(bad_pv="safe"))
    engine.start()
    for _ in range(5):
        clock.advance(1.0)
    loop = engine.loop("zone")
    assert loop.state.status == "waiting" and not loop.state.alarm and dev.writes == []
    put(db, clock, {"z/temp": 18.0})
    clock.advance(1.0)
    assert loop.state.status == "ok" and dev.writes
    engine.stop()
