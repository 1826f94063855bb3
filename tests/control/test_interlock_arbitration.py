"""An interlock wins over every control writer of its tag, PID loops included.

PID outputs do not go through the command path, so the loop itself must honour
the interlocks guarding its output: while one refuses the value the loop wants,
the loop writes nothing (or its ``disabled_output`` when that is allowed),
tracks what the device reads, and resumes bumplessly once the interlock clears.
All on the real TagDatabase with a ``task.Clock``.
"""

from __future__ import annotations

from control import _async
from control.commands import SYSTEM

from .helpers import ZONE_LOOP, FakeDevice, loop_rig, make_db, put, section, spec

INTERLOCK = """\
interlocks:
  valve-needs-airflow:
    tags: [z/valve]
    block: "value > 0 and not {z/airflow}"
    message: no hot water without proven airflow
"""


class Zone:
    """First-order heating zone: temp → 15 + 0.1·valve (30 s time constant)."""

    def __init__(self, temp: float = 17.0) -> None:
        self.temp = temp

    def step(self, valve: float, dt: float = 1.0) -> None:
        self.temp += (15.0 + 0.1 * valve - self.temp) * dt / 30.0


def started(loop_option: str = "", airflow: bool = True):
    """The zone loop (plus ``loop_option``, YAML lines of the loop) under the airflow interlock, started with the
    zone at 17 °C, the valve shut and airflow proven or not; returns (db, clock, dev, engine, zone)."""
    db, clock, dev, engine = loop_rig(ZONE_LOOP + loop_option + INTERLOCK, [spec("z/airflow", "bool", access="r")])
    zone = Zone()
    put(db, clock, {"z/temp": zone.temp, "z/valve": 0.0, "z/airflow": airflow})
    engine.start()
    return db, clock, dev, engine, zone


def run(db, clock, zone, seconds):
    for _ in range(int(seconds)):
        zone.step(float(db.get("z/valve").value))
        put(db, clock, {"z/temp": zone.temp})
        clock.advance(1.0)


def state(db, field):
    return db.get(f"_system/control/loops/zone/{field}").value


def test_interlock_holds_the_loop_output_and_the_loop_resumes_bumplessly():
    db, clock, dev, engine, zone = started()
    run(db, clock, zone, 30)
    assert dev.last("z/valve") > 20.0                       # heating while airflow is proven
    assert state(db, "status") == "ok" and state(db, "interlock") == ""

    put(db, clock, {"z/airflow": False})                    # the fan trips: the interlock holds
    before = len(dev.writes)
    run(db, clock, zone, 60)
    assert dev.writes[before:] == []                        # the loop never overrides the interlock
    loop = engine.loop("zone")
    assert state(db, "status") == "interlocked"
    assert "valve-needs-airflow" in state(db, "interlock")
    assert loop.pid.output == db.get("z/valve").value       # tracking the device, not winding up

    # The operator shuts the valve through the command path (value 0 is allowed).
    out = []
    _async.start(engine.commands.execute(SYSTEM, "z/valve", 0.0, source="api")).addCallback(out.append)
    assert out and out[0].ok
    run(db, clock, zone, 5)
    assert dev.writes[before + 1:] == [] and loop.pid.output == 0.0

    put(db, clock, {"z/airflow": True})                     # airflow back: the loop resumes from 0
    run(db, clock, zone, 1)
    first = [v for p, v, _ in dev.writes[before + 1:] if p == "z/valve"]
    assert first and 0.0 < first[0] < 3.0                   # bumpless: no jump to the old 20+ %
    assert state(db, "status") == "ok" and state(db, "interlock") == ""
    run(db, clock, zone, 600)
    assert zone.temp == __import__("pytest").approx(21.0, abs=0.2)
    engine.stop()


def test_interlocked_loop_drives_to_disabled_output_when_that_is_allowed():
    db, clock, dev, engine, zone = started("    disabled_output: 0\n")
    run(db, clock, zone, 30)
    assert dev.last("z/valve") > 20.0
    put(db, clock, {"z/airflow": False})
    before = len(dev.writes)
    run(db, clock, zone, 30)
    assert [v for _p, v, _t in dev.writes[before:]] == [0]  # shut once, then held there
    assert state(db, "status") == "interlocked" and engine.loop("zone").pid.output == 0.0
    put(db, clock, {"z/airflow": True})
    run(db, clock, zone, 1)
    assert 0.0 < dev.last("z/valve") < 3.0                  # resumes from the shut valve
    engine.stop()


def test_manual_output_refused_by_the_interlock_and_held_while_it_trips():
    db, clock, dev, engine, zone = started("    mode: manual\n", airflow=False)

    def command(value):
        out = []
        _async.start(engine.commands.execute(SYSTEM, "_system/control/loops/zone/out", value)).addCallback(
            out.append)
        assert out
        return out[0]

    refused = command(60.0)                                 # refused now, never written later
    assert refused.status == "refused" and "valve-needs-airflow" in refused.message
    run(db, clock, zone, 10)
    assert {v for _p, v, _t in dev.writes} <= {0}           # only the allowed manual output (closed)
    assert state(db, "status") == "manual"
    put(db, clock, {"z/airflow": True})
    assert command(40.0).ok
    run(db, clock, zone, 2)
    assert dev.last("z/valve") == 40
    put(db, clock, {"z/airflow": False})                    # trips in manual: held, no write
    before = len(dev.writes)
    run(db, clock, zone, 10)
    assert dev.writes[before:] == [] and state(db, "status") == "interlocked"
    put(db, clock, {"z/airflow": True})
    run(db, clock, zone, 5)
    assert dev.writes[before:] == [] and state(db, "status") == "manual"   # device already at 40: no bump
    assert engine.loop("zone").pid.output == 40.0
    engine.stop()


SCHEDULE = """
schedule_interval: 10s
schedules:
  fans:
    targets: [z/fan_cmd]
    week: {daily: ["00:00-23:59"]}
interlocks:
  fan-estop:
    tags: [z/fan_cmd]
    block: "value == True and {z/estop}"
    message: emergency stop pressed
"""


def test_schedule_is_refused_while_the_interlock_holds_and_applies_after():
    from control.engine import ControlEngine
    db, clock = make_db([spec("z/fan_cmd", "bool"), spec("z/estop", "bool", access="r")])
    dev = FakeDevice(db, clock)
    put(db, clock, {"z/fan_cmd": False, "z/estop": True})
    engine = ControlEngine(section(SCHEDULE), db, clock, "Asia/Shanghai")
    engine.start()
    for _ in range(12):
        clock.advance(10.0)
    assert dev.writes == []
    assert "fan-estop" in db.get("_system/control/schedules/fans/result").value
    put(db, clock, {"z/estop": False})
    for _ in range(40):                                     # the back-off is at most 5 minutes
        clock.advance(10.0)
    assert dev.last("z/fan_cmd") is True
    engine.stop()
