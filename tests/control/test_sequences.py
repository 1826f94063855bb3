"""Interlocks and sequences on the simulator physics: barrier, lead/lag, AHU start, elevator fault."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from collectors.sim.elevators import VARIABLES, Car
from collectors.sim.hvac import AirHandler, Chiller
from collectors.sim.parking import CarPark
from control import _async
from control.commands import SYSTEM
from control.engine import ControlEngine
from tagdb.auth import Principal
from tagdb.site.model import TagSpec
from tagdb.values import GOOD, TagValue, WriteResult, WriteStatus

from .helpers import make_db, section
from .sim_bridge import ModelBridge, model_specs, rng

OPERATOR = Principal("alice", permissions=frozenset({"tags.write", "hmi.command", "tags.read"}))


def execute(engine, principal, path, value, **kw):
    out = []
    _async.start(engine.commands.execute(principal, path, value, **kw)).addCallback(out.append)
    return out


BARRIER = """
inputs:
  barrier-1-authorized: {type: bool, pulse: 20s}
interlocks:
  barrier-1-vehicle:
    tags: [car-park/barrier-1/open_cmd]
    block: "value == False and {car-park/barrier-1/vehicle_present}"
    message: a vehicle is on the barrier loop
rules:
  barrier-1-open:
    when: "{car-park/barrier-1/vehicle_present} and {_system/control/inputs/barrier-1-authorized}"
    do:
      - {write: car-park/barrier-1/open_cmd, value: true}
      - {write: _system/control/inputs/barrier-1-authorized, value: false}
  barrier-1-close:
    when: "{car-park/barrier-1/open_cmd} and not {car-park/barrier-1/vehicle_present}"
    for: 3s
    do:
      - {write: car-park/barrier-1/open_cmd, value: false}
"""

NAMES = {f"barrier_{b}_{p}": f"barrier-{b}/{q}" for b in (1, 2)
         for p, q in (("open_cmd", "open_cmd"), ("open", "open"), ("vehicle", "vehicle_present"))}


class GuardedBridge(ModelBridge):
    """Records whether a vehicle was on the loop at the moment each close command arrived."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.closes_on_vehicle = 0
        self.closes = 0

    async def write_tag(self, spec, value):
        if spec.path.endswith("barrier-1/open_cmd") and value is False:
            self.closes += 1
            self.closes_on_vehicle += bool(self.model.get("barrier_1_vehicle"))
        return await super().write_tag(spec, value)


def parking_rig(rate: float):
    model = CarPark("car-park-controller", rng("car-park-controller"),
                    {"spaces": 40, "peak_arrivals_per_hour": rate, "initial_occupancy": 0.3})
    specs = [TagSpec(path=f"car-park/{NAMES.get(p.name, p.name)}", data_type=p.data_type if p.data_type != "uint32" else "uint32",
                     device="cp", address=p.address, access="rw" if p.writable else "r")
             for p in model.points.values()]
    db, clock = make_db(specs)
    bridge = GuardedBridge(db, clock, model, "car-park", "cp", hour=19.0, names=NAMES)
    engine = ControlEngine(section(BARRIER), db, clock)
    bridge.start()
    engine.start()
    return db, clock, model, bridge, engine


def test_barrier_opens_for_authorized_vehicle_and_never_closes_on_one():
    db, clock, model, bridge, engine = parking_rig(rate=240.0)   # a busy evening: 4 vehicles a minute
    authorized_at = {}

    def access_system(batch):
        # The plate reader authorizes each vehicle that arrives on the entry loop 2 s later.
        for tv in batch:
            if tv.value is True:
                authorized_at[clock.seconds()] = True
                clock.callLater(2.0, execute, engine, SYSTEM, "_system/control/inputs/barrier-1-authorized", True)

    db.subscribe("car-park/barrier-1/vehicle_present", access_system)
    operator_attempts = []
    for i in range(5400):                                       # 90 simulated minutes
        clock.advance(1.0)
        if i % 97 == 0 and db.get("car-park/barrier-1/vehicle_present").value:
            operator_attempts += execute(engine, OPERATOR, "car-park/barrier-1/open_cmd", False, source="hmi")
    entries = model.get("entries")
    print(f"\nbarrier: {entries} entries, {bridge.closes} closes, {len(operator_attempts)} refused operator closes")
    assert entries > 60 and bridge.closes > 30
    assert bridge.closes_on_vehicle == 0
    assert engine.rules["barrier-1-open"].rt.runs > 30
    # Operators are held by the same interlock, and each refusal is audited.
    assert operator_attempts and all(r.status == "refused" and "vehicle" in r.message for r in operator_attempts)
    audited = engine.commands.recent(100000, path="car-park/barrier-1/open_cmd", user="alice")
    assert len(audited) == len(operator_attempts)
    engine.stop()
    bridge.stop()


def seconds(clock, n: int) -> None:
    for _ in range(n):
        clock.advance(1.0)


def test_barrier_waits_for_the_loop_to_stay_clear():
    db, clock, model, bridge, engine = parking_rig(rate=0.0)
    model.barriers[1].queue = 1                                  # a vehicle drives onto the loop
    seconds(clock, 2)
    assert db.get("car-park/barrier-1/open_cmd").value is False  # not authorized: no command
    execute(engine, SYSTEM, "_system/control/inputs/barrier-1-authorized", True)
    seconds(clock, 2)
    assert db.get("car-park/barrier-1/open_cmd").value is True
    assert db.get("_system/control/inputs/barrier-1-authorized").value is False   # consumed
    for _ in range(10):                                          # it drives through
        if not db.get("car-park/barrier-1/vehicle_present").value:
            break
        seconds(clock, 1)
    assert db.get("car-park/barrier-1/vehicle_present").value is False
    seconds(clock, 1)
    model.barriers[1].queue = 1                                  # the next car follows closely
    seconds(clock, 2)
    assert db.get("car-park/barrier-1/vehicle_present").value is True
    assert db.get("car-park/barrier-1/open_cmd").value is True   # the 3 s clear timer restarted
    assert bridge.closes == 0
    seconds(clock, 30)
    assert db.get("car-park/barrier-1/open_cmd").value is False
    assert bridge.closes == 1 and bridge.closes_on_vehicle == 0
    close = [r for r in engine.commands.records if r.source == "rule:barrier-1-close"]
    assert len(close) == 1 and close[0].ok
    engine.stop()
    bridge.stop()


ROTATION = """
rotations:
  chillers:
    members:
      - {name: chiller-1, run_hours: plant/chiller-1/run_hours, command: plant/chiller-1/run_cmd}
      - {name: chiller-2, run_hours: plant/chiller-2/run_hours, command: plant/chiller-2/run_cmd}
    rotate_after_hours: 2
    demand: 1
    interval: 60s
"""


@pytest.mark.parametrize("critical", [False, True], ids=["plain", "critical run commands"])
def test_lead_lag_rotation_swaps_after_configured_run_hours(critical):
    c1 = Chiller("plant-chiller-1", rng("c1"), {"run_hours": 1000.0, "running": 1})
    c2 = Chiller("plant-chiller-2", rng("c2"), {"run_hours": 1000.5, "running": 1})
    db, clock = make_db(model_specs(c1, "plant/chiller-1", "c1") + model_specs(c2, "plant/chiller-2", "c2"))
    b1 = ModelBridge(db, clock, c1, "plant/chiller-1", "c1", scan=60.0)
    b2 = ModelBridge(db, clock, c2, "plant/chiller-2", "c2", scan=60.0)
    # Critical commands need a person's confirmation; the configured rotation (as in the demo) does not.
    engine = ControlEngine(section(('critical: ["plant/*/run_cmd"]\n' if critical else "") + ROTATION), db, clock)
    b1.start(), b2.start()
    engine.start()
    rot = engine.rotations["chillers"]
    clock.advance(120)
    assert rot.lead.name == "chiller-1"                          # fewest run hours leads
    assert c1.get("run_cmd") is True and c2.get("run_cmd") is False
    leads = []
    for _ in range(int(7 * 3600 / 60)):
        clock.advance(60)
        leads.append(db.get("_system/control/rotations/chillers/lead").value)
    swaps = [i for i in range(1, len(leads)) if leads[i] != leads[i - 1]]
    # Swaps every 2 run hours of the lead (7 h → 3 swaps), one minute of tolerance each.
    assert len(swaps) == 3 and rot.swaps == 3
    assert [round(i / 60, 1) for i in swaps] == pytest.approx([2.0, 4.0, 6.0], abs=0.1)
    # Each swap starts the incoming chiller before stopping the outgoing one.
    records = [r for r in engine.commands.records if r.source == "rotation:chillers"]
    for i, r in enumerate(records[2:], start=2):
        if r.new_value is False:
            assert records[i - 1].new_value is True
    assert all(r.ok for r in records)
    # Run hours stay balanced within one rotation period.
    assert abs(c1.get("run_hours") - c2.get("run_hours")) < 2.5
    if critical:
        person = Principal("op", frozenset({"operator"}), frozenset({"tags.write"}))
        out = []
        _async.start(engine.commands.execute(person, "plant/chiller-1/run_cmd", False)).addCallback(out.append)
        clock.advance(0)
        assert out and out[0].status == "confirmation_required"
    engine.stop()


AHU_SEQUENCE = """
inputs:
  mall-ahu-1-run: {type: bool}
loops:
  mall-ahu-1-sat:
    pv: mall/ahu-1/supply_air_temp
    out: mall/ahu-1/valve_pct
    sp: 15.0
    kp: 6
    ti: 60s
    action: direct
    mode: manual
    rate_limit: 5
    enable: "{mall/ahu-1/fan_status}"
    disabled_output: 0
rules:
  mall-ahu-1-start-stop:
    description: fan first, valve loop only once the fan is proven; valve shut before the fan stops
    when: "{_system/control/inputs/mall-ahu-1-run}"
    do:
      - {write: mall/ahu-1/fan_cmd, value: true}
      - {wait: "{mall/ahu-1/fan_status}", timeout: 30s}
      - {delay: 10s}
      - {write: _system/control/loops/mall-ahu-1-sat/mode, value: auto}
    else:
      - {write: _system/control/loops/mall-ahu-1-sat/mode, value: manual}
      - {write: _system/control/loops/mall-ahu-1-sat/out, value: 0}
      - {delay: 30s}
      - {write: mall/ahu-1/fan_cmd, value: false}
"""


class FanWatch(ModelBridge):
    """Records the fan status each time the valve is written."""

    valve_while_fan_off = 0

    async def write_tag(self, spec, value):
        if spec.path.endswith("valve_pct") and value > 0 and not self.model.get("fan_status"):
            self.valve_while_fan_off += 1
        return await super().write_tag(spec, value)


def test_ahu_start_sequence_fan_before_valve_and_stop_valve_before_fan():
    model = AirHandler("mall-ahu-1", rng("mall-ahu-1"), {"valve_pct": 0.0})
    model.set("fan_cmd", False)
    db, clock = make_db(model_specs(model, "mall/ahu-1", "mall-ahu-1"))
    bridge = FanWatch(db, clock, model, "mall/ahu-1", "mall-ahu-1")
    engine = ControlEngine(section(AHU_SEQUENCE), db, clock)
    bridge.start()
    engine.start()
    clock.advance(60)
    assert model.get("fan_status") is False and model.get("valve_pct") == 0.0
    execute(engine, OPERATOR, "_system/control/inputs/mall-ahu-1-run", True, source="hmi")
    for _ in range(5):
        clock.advance(1.0)
    assert model.get("fan_cmd") is True and model.get("fan_status") is True
    assert engine.loop("mall-ahu-1-sat").state.mode == "manual"   # not yet: 10 s proving delay
    for _ in range(600):
        clock.advance(1.0)
    assert engine.loop("mall-ahu-1-sat").state.mode == "auto"
    assert model.get("valve_pct") > 20.0
    execute(engine, OPERATOR, "_system/control/inputs/mall-ahu-1-run", False, source="hmi")
    for _ in range(10):
        clock.advance(1.0)
    assert model.get("valve_pct") == 0.0 and model.get("fan_cmd") is True   # valve shut, fan runs on
    for _ in range(30):
        clock.advance(1.0)
    assert model.get("fan_cmd") is False
    assert bridge.valve_while_fan_off == 0
    assert engine.rules["mall-ahu-1-start-stop"].rt.status == "done else"
    engine.stop()


ELEVATOR = """
rules:
  elevator-1-fault:
    description: take a faulted car out of service (an engineer returns it)
    when: "{tower-a/elevator-1/fault_code} != 0"
    do:
      - {write: tower-a/elevator-1/in_service, value: false}
"""


class CarBridge:
    """A fake OPC UA collector for one simulated elevator car."""

    def __init__(self, db, clock, car: Car, prefix: str) -> None:
        self.db, self.clock, self.car, self.prefix = db, clock, car, prefix
        db.register_writer("elevators", self)

    def poll(self) -> None:
        ts = datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)
        self.db.update([TagValue(f"{self.prefix}/{VARIABLES[k][0]}", v, GOOD, ts, ts)
                        for k, v in self.car.values().items()])
        self.db.flush()

    async def write_tag(self, spec, value):
        if spec.path.endswith("/in_service"):
            self.car.state.in_service = bool(value)
            if not value:
                self.car.targets.clear()
        return WriteResult(spec.path, value, WriteStatus.OK)


def test_elevator_taken_out_of_service_on_fault():
    car = Car("tower-a-car1", -2, 30, rng("tower-a-car1"))
    specs = [TagSpec(path=f"tower-a/elevator-1/{p}", data_type=dt, device="elevators", address=f"s={k}",
                     access="rw" if w else "r") for k, (p, dt, w, _) in VARIABLES.items()]
    db, clock = make_db(specs)
    bridge = CarBridge(db, clock, car, "tower-a/elevator-1")
    engine = ControlEngine(section(ELEVATOR), db, clock)
    bridge.poll()
    engine.start()
    for _ in range(60):
        car.step(1.0, 9.0)
        bridge.poll()
        clock.advance(1.0)
    assert db.get("tower-a/elevator-1/in_service").value is True
    car.inject("door")
    for _ in range(5):
        car.step(1.0, 9.0)
        bridge.poll()
        clock.advance(1.0)
    assert car.state.in_service is False
    assert db.get("tower-a/elevator-1/in_service").value is False
    (record,) = [r for r in engine.commands.records if r.source == "rule:elevator-1-fault"]
    assert record.ok and record.old_value is True and record.new_value is False
    car.request(10)
    assert not car.targets                                       # out of service: calls refused
    engine.stop()


def test_rules_wait_for_the_first_reading_of_their_targets():
    model = AirHandler("mall-ahu-1", rng("mall-ahu-1"), {"valve_pct": 0.0})
    model.set("fan_cmd", False)
    db, clock = make_db(model_specs(model, "mall/ahu-1", "mall-ahu-1"))
    bridge = ModelBridge(db, clock, model, "mall/ahu-1", "mall-ahu-1")
    engine = ControlEngine(section(AHU_SEQUENCE), db, clock)
    engine.start()                                   # control starts before the collectors
    execute(engine, SYSTEM, "_system/control/inputs/mall-ahu-1-run", True)
    clock.advance(1.0)
    rule = engine.rules["mall-ahu-1-start-stop"]
    assert not rule.rt.known and "first reading" in rule.rt.last_error
    assert not [r for r in engine.commands.records if r.source.startswith("rule:")]
    bridge.start()                                   # the device is read: the sequence runs
    for _ in range(20):
        clock.advance(1.0)
    assert model.get("fan_cmd") is True and engine.loop("mall-ahu-1-sat").state.mode == "auto"
    engine.stop()
    bridge.stop()


def test_continuous_rule_keeps_its_target_and_backs_off_when_refused():
    from .helpers import FakeDevice, put, spec

    db, clock = make_db([spec("p/level", access="r"), spec("p/pump", "bool"), spec("p/lock", "bool", access="r")])
    dev = FakeDevice(db, clock)
    put(db, clock, {"p/level": 10.0, "p/pump": False, "p/lock": False})
    engine = ControlEngine(section("""
interlocks:
  lock: {tags: [p/pump], block: "value and {p/lock}", message: pump locked out}
rules:
  pump-on-high-level:
    mode: continuous
    when: "{p/level} > 80"
    do: [{write: p/pump, value: true}]
    else: [{write: p/pump, value: false}]
"""), db, clock)
    engine.start()
    put(db, clock, {"p/level": 90.0})
    seconds(clock, 2)
    assert db.get("p/pump").value is True
    put(db, clock, {"p/pump": False})               # someone switched it off at the panel
    seconds(clock, 2)
    assert db.get("p/pump").value is True           # continuous: put back
    put(db, clock, {"p/pump": False, "p/lock": True})
    seconds(clock, 600)
    refused = [r for r in engine.commands.records if r.status == "refused"]
    assert 2 <= len(refused) <= 8                    # backs off: not 600 refusals in 10 minutes
    assert db.get("p/pump").value is False
    engine.stop()


def test_faulted_lead_hands_over_to_the_standby_at_once():
    config = ROTATION.replace("command: plant/chiller-1/run_cmd}",
                              "command: plant/chiller-1/run_cmd, fault: '{plant/chiller-1/alarm}'}")
    config = config.replace("command: plant/chiller-2/run_cmd}",
                            "command: plant/chiller-2/run_cmd, fault: '{plant/chiller-2/alarm}'}")
    c1 = Chiller("plant-chiller-1", rng("c1"), {"run_hours": 1000.0, "running": 1})
    c2 = Chiller("plant-chiller-2", rng("c2"), {"run_hours": 1000.5, "running": 1})
    db, clock = make_db(model_specs(c1, "plant/chiller-1", "c1") + model_specs(c2, "plant/chiller-2", "c2"))
    b1 = ModelBridge(db, clock, c1, "plant/chiller-1", "c1", scan=60.0)
    b2 = ModelBridge(db, clock, c2, "plant/chiller-2", "c2", scan=60.0)
    engine = ControlEngine(section(config), db, clock)
    b1.start(), b2.start()
    engine.start()
    clock.advance(120)
    rot = engine.rotations["chillers"]
    assert rot.lead.name == "chiller-1" and c2.get("run_cmd") is False
    c1.failed = True                                  # compressor trip: the chiller alarms
    clock.advance(60)
    clock.advance(60)
    assert rot.lead.name == "chiller-2"
    assert c2.get("run_cmd") is True and c1.get("run_cmd") is False
    assert db.get("_system/control/rotations/chillers/status").value == "faulted: chiller-1"
    engine.stop()
