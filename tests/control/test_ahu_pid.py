"""Acceptance: a PID loop holds an AHU's supply air temperature at setpoint.

The collectors' AirHandler physics (first-order coil response, seeded random
load disturbance on the return air, registers quantized to 0.1) runs on the
injected clock behind the real TagDatabase; the loop writes the chilled-water
valve through ``tags.write`` like in production. Overshoot and settling time
of the step response are printed (``-s`` shows them) and bounded.
"""

from __future__ import annotations

import statistics

from collectors.sim.hvac import AirHandler
from control.engine import ControlEngine

from .helpers import make_db, section
from .sim_bridge import ModelBridge, model_specs, rng

CONFIG = """
loops:
  ahu-1-sat:
    description: supply air temperature by chilled-water valve
    pv: mall/ahu-1/supply_air_temp
    out: mall/ahu-1/valve_pct
    sp_tag: mall/ahu-1/sat_setpoint
    kp: 6
    ti: 60s
    td: 0s
    action: direct
    out_min: 0
    out_max: 100
    rate_limit: 5
    bad_pv: safe
    safe_output: 50
    enable: "{mall/ahu-1/fan_status}"
    disabled_output: 0
    write_deadband: 0.1
"""


def build(sp: float = 15.0):
    model = AirHandler("mall-ahu-1", rng("mall-ahu-1"), {"valve_pct": 0.0})
    model.set("sat_setpoint", sp)
    db, clock = make_db(model_specs(model, "mall/ahu-1", "mall-ahu-1"))
    bridge = ModelBridge(db, clock, model, "mall/ahu-1", "mall-ahu-1", hour=14.0)
    engine = ControlEngine(section(CONFIG), db, clock, "Asia/Shanghai")
    bridge.start()
    engine.start()
    return db, clock, model, bridge, engine


def step_response(trace: list[tuple[float, float]], sp: float, start: float, band: float = 0.5):
    """(overshoot °C below SP, settling time s) of a falling step toward ``sp``."""
    overshoot = max(0.0, max(sp - pv for _, pv in trace))
    settle = None
    for i, (t, _) in enumerate(trace):
        if all(abs(pv - sp) <= band for _, pv in trace[i:]):
            settle = t - start
            break
    return overshoot, settle


def test_pid_brings_supply_air_to_setpoint_and_holds_it_under_disturbance():
    db, clock, model, bridge, engine = build(sp=15.0)
    start = clock.seconds()
    trace = []
    for _ in range(3600):                       # one simulated hour, 1 s scans
        clock.advance(1.0)
        trace.append((clock.seconds(), db.get("mall/ahu-1/supply_air_temp").value))
    overshoot, settle = step_response(trace[:1200], 15.0, start)
    held = [pv for t, pv in trace if t - start >= 1200]
    print(f"\nAHU SAT step 24→15 °C: overshoot {overshoot:.2f} °C, settling (±0.5 °C) {settle:.0f} s, "
          f"then max |error| {max(abs(p - 15.0) for p in held):.2f} °C, mean {statistics.mean(held):.2f} °C")
    assert trace[0][1] > 20.0                  # it really started far from setpoint
    assert settle is not None and settle < 900
    assert overshoot < 1.0
    # Holds within ±0.5 °C for the remaining 40 minutes despite the load random walk.
    assert max(abs(p - 15.0) for p in held) <= 0.5
    assert model._disturbance != 0.0           # the disturbance was really acting
    valves = [v for _, v, _ in bridge.writes]
    assert max(valves) - min(valves[len(valves) // 2:]) > 1.0   # the loop kept correcting
    assert all(v <= 100 and v >= 0 for v in valves)
    # The published state agrees with the device.
    assert db.get("_system/control/loops/ahu-1-sat/status").value == "ok"
    assert abs(db.get("_system/control/loops/ahu-1-sat/out").value - model.get("valve_pct")) < 0.2
    engine.stop()
    bridge.stop()


def test_setpoint_change_through_the_setpoint_tag_and_fan_interlock():
    db, clock, model, bridge, engine = build(sp=15.0)
    for _ in range(900):
        clock.advance(1.0)
    model.set("sat_setpoint", 17.0)             # an operator writes a new setpoint at the panel
    for _ in range(900):
        clock.advance(1.0)
    assert abs(db.get("mall/ahu-1/supply_air_temp").value - 17.0) <= 0.5
    # Fan stops: the loop is disabled and closes the valve (no cooling without airflow).
    model.set("fan_cmd", False)
    for _ in range(5):
        clock.advance(1.0)
    assert db.get("_system/control/loops/ahu-1-sat/status").value == "disabled"
    assert model.get("valve_pct") == 0.0
    engine.stop()
    bridge.stop()


def test_comm_loss_goes_to_safe_output_and_recovers_bumplessly():
    db, clock, model, bridge, engine = build(sp=15.0)
    for _ in range(900):
        clock.advance(1.0)
    bridge.reachable = False
    for _ in range(3):
        clock.advance(1.0)
    loop = engine.loop("ahu-1-sat")
    assert loop.state.status == "bad_pv" and loop.state.alarm
    assert loop.pid.output == 50.0             # the configured safe output, written when possible
    bridge.reachable = True
    for _ in range(2):
        clock.advance(1.0)
    assert model.get("valve_pct") <= 55.0      # from the safe output, rate limited: no jump
    for _ in range(900):
        clock.advance(1.0)
    assert abs(db.get("mall/ahu-1/supply_air_temp").value - 15.0) <= 0.5
    engine.stop()
    bridge.stop()


def test_anti_windup_after_saturation_on_the_ahu():
    db, clock, model, bridge, engine = build(sp=15.0)
    model.set("sat_setpoint", 8.0)              # colder than the coil can make the air: saturates
    for _ in range(1200):
        clock.advance(1.0)
    loop = engine.loop("ahu-1-sat")
    assert model.get("valve_pct") == 100.0 and loop.pid.terms.limited in ("high", "rate")
    coldest = db.get("mall/ahu-1/supply_air_temp").value
    assert coldest > 10.0
    # Twenty minutes at the limit did not wind the integral up beyond what holds the limit.
    assert loop.pid.integral <= 100.0 + 6.0 * (coldest - 8.0) + 1.0
    model.set("sat_setpoint", 15.0)
    trace = []
    for _ in range(900):
        clock.advance(1.0)
        trace.append((model.get("valve_pct"), db.get("mall/ahu-1/supply_air_temp").value))
    left = next(i for i, (v, _) in enumerate(trace) if v < 100.0)
    assert left <= 3                             # leaves saturation at once, not after 20 minutes
    assert min(t for _, t in trace) > coldest - 0.5
    assert max(abs(t - 15.0) for _, t in trace[-300:]) <= 0.5
    engine.stop()
    bridge.stop()
