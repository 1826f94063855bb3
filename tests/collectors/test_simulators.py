"""Simulator physics on an injected clock: deterministic, plausible, faults behave as documented."""

from __future__ import annotations

import math
import random

import pytest
from twisted.internet.task import Clock

from collectors.errors import SimulatorError
from collectors.sim.clock import SimClock, daylight, seeded
from collectors.sim.elevators import FAULTS, Car
from collectors.sim.hub import SimulatorHub
from collectors.sim.hvac import AirHandler, Chiller
from collectors.sim.lighting import LightingPanel
from collectors.sim.meters import KWH_ROLLOVER, Meter
from collectors.sim.parking import CarPark
from collectors.testing import aio_test

T0 = 1_772_352_000.0     # 2026-03-01 08:00 UTC


def _run(model, seconds: float, hour: float = 12.0, dt: float = 1.0) -> None:
    for _ in range(int(seconds / dt)):
        model.step(dt, hour)


def test_same_seed_same_day_other_seed_other_day():
    def trace(seed):
        m = Meter("m", seeded(seed, "m"), {"profile": "residential"})
        out = []
        for k in range(300):
            m.step(10.0, 7 + k / 100)
            out.append((m.get("energy_kwh"), m.get("power_kw")))
        return out
    assert trace(1) == trace(1)
    assert trace(1) != trace(2)


def test_ahu_supply_air_is_a_first_order_response_to_the_valve():
    ahu = AirHandler("ahu", random.Random(3), {"tau": 90.0, "valve_pct": 0.0})
    _run(ahu, 900)                                       # settle with the valve shut
    ahu.rng = random.Random(0)
    ahu._disturbance = 0.0
    start = ahu._sat
    ahu.set("valve_pct", 100.0)
    mixed = ahu.get("mixed_air_temp")
    target = ahu.steady_supply(1.0, mixed)
    assert target < start - 5                            # a full coil cools by several kelvin
    _run(ahu, 90)                                        # one time constant later
    done = (start - ahu._sat) / (start - target)
    assert 0.55 < done < 0.72                            # ~63 % of the step (disturbance aside)
    _run(ahu, 600)
    assert ahu.get("supply_air_temp") == pytest.approx(target, abs=0.6)
    dp0 = ahu.get("filter_dp")
    _run(ahu, 3600, dt=10)
    assert ahu.get("filter_dp") > dp0                    # the filter loads up while the fan runs


def test_chiller_follows_setpoint_only_when_running():
    ch = Chiller("ch", random.Random(1), {})
    ch.set("setpoint", 6.0)
    _run(ch, 1800, hour=15, dt=5)
    assert ch.get("running") and ch.get("supply_temp") == pytest.approx(6.0, abs=0.2)
    assert ch.get("return_temp") > ch.get("supply_temp") and ch.get("power_kw") > 0
    ch.set("run_cmd", False)
    _run(ch, 1800, hour=15, dt=5)
    assert not ch.get("running") and ch.get("power_kw") == 0 and ch.get("supply_temp") > 10


def test_meter_energy_rolls_over_like_the_register():
    m = Meter("m", random.Random(1), {"energy_kwh": KWH_ROLLOVER - 0.5, "peak_kw": 50.0, "profile": "common"})
    before = m.get("energy_kwh")
    _run(m, 3600, hour=12, dt=60)                        # ~25+ kWh at peak 50 kW
    after = m.get("energy_kwh")
    assert before > KWH_ROLLOVER - 1 and after < 100     # wrapped to a small count
    assert int(m.bank.ir[0]) * 65536 + int(m.bank.ir[1]) == round(after * 100)   # raw count, 0.01 kWh


def test_lighting_feedback_follows_command_and_lux_follows_daylight():
    panel = LightingPanel("p", random.Random(1), {"circuits": 4, "window_factor": 0.5, "lamp_lux": 300})
    panel.set("circuit_2_cmd", True)
    panel.step(1.0, 2.0)
    assert panel.get("circuit_2_status") is True
    night_on = panel.get("circuit_2_lux")
    assert 290 <= night_on <= 310                        # lamps only at 2 am
    panel.set("circuit_2_cmd", False)
    panel.step(1.0, 12.0)
    assert panel.get("circuit_2_status") is False
    assert panel.get("circuit_2_lux") == pytest.approx(1000 * 0.5 * daylight(12.0), abs=6)


def test_car_park_counts_balance_over_a_day():
    park = CarPark("cp", random.Random(5), {"spaces": 200, "peak_arrivals_per_hour": 120})
    seen_open = False
    for k in range(24 * 360):                            # a day in 10 s steps
        park.step(10.0, k / 360)
        seen_open |= park.get("barrier_1_open")
    occupied = sum(park.get(f"space_{n}") for n in range(1, 201))
    assert park.get("occupied") == occupied and park.get("free") == 200 - occupied
    assert park.get("entries") > 100 and park.get("exits") > 100
    assert seen_open
    start = 70                                           # initial occupancy 35 % of 200
    assert occupied == start + park.get("entries") - park.get("exits")


def test_elevator_moves_within_its_floors_and_entrapment_calls_for_help():
    car = Car("c", -2, 30, random.Random(2))
    floors = set()
    for _ in range(3600):
        car.step(1.0, 8.0)                               # morning peak
        floors.add(car.state.current_floor)
    assert min(floors) >= -2 and max(floors) <= 30 and len(floors) > 5
    assert car.state.trips > 0
    trips = car.state.trips
    car.inject("entrapment")
    car.step(1.0, 8.0)
    assert car.state.fault_code == FAULTS["entrapment"] and not car.state.running and car.state.door_state == 0
    assert not car.state.emergency_call
    for _ in range(25):
        car.step(1.0, 8.0)
    assert car.state.emergency_call and car.state.trips == trips     # trapped: no trips
    car.inject("none")
    assert car.state.fault_code == 0 and not car.state.emergency_call


def test_sim_clock_scales_time():
    clock = Clock()
    clock.advance(T0)
    sc = SimClock(clock, time_scale=60.0, tz="UTC", start_hour=6.0)
    clock.advance(60)                                    # one real minute = one simulated hour
    assert sc.hour() == pytest.approx(7.0)
    assert math.isclose(daylight(12.0), 1.0)


@aio_test
async def test_hub_steps_on_the_injected_clock_and_names_things_like_the_site(tmp_path):
    from collectors.sim.demo import load_demo

    site = load_demo(0)
    clock = Clock()
    clock.advance(T0)
    hub = SimulatorHub(site, clock, tmp_path)            # servers not started: physics only
    hub.step()
    steps = hub.steps
    clock.advance(5)
    hub.step()
    assert hub.steps == steps + 1
    assert len(hub.models) == sum(1 for d in site.devices.values() if d.protocol == "modbus")
    assert sum(len(b.cars) for b in hub.elevator_banks.values()) == 6
    assert isinstance(hub.value("plant/chiller-1/setpoint"), float)
    assert hub.value("tower-a/elevator-1/in_service") is True
    with pytest.raises(SimulatorError, match="no tag"):
        hub.value("plant/chiller-9/setpoint")
    with pytest.raises(SimulatorError, match="unknown elevator fault"):
        hub.inject_elevator_fault("tower-a/elevator-1", "fire")
    with pytest.raises(SimulatorError, match="not a simulated elevator"):
        hub.inject_elevator_fault("plant/chiller-1", "door")
    hub.freeze("tower-a/meter-1201/power_kw", 1.5)
    clock.advance(5)
    hub.step()
    assert hub.value("tower-a/meter-1201/power_kw") == 1.5
    hub.unfreeze("tower-a/meter-1201/power_kw")
    clock.advance(5)
    hub.step()
    assert hub.value("tower-a/meter-1201/power_kw") != 1.5


def test_free_demo_ports_stay_below_the_ephemeral_range():
    """A port an outgoing connection may take at any moment is never handed to a simulator."""
    import random

    from collectors.sim.demo import ephemeral_low, free_port_offset, load_demo, simulated_ports

    site = load_demo(0)
    ports = simulated_ports(site)
    for seed in range(20):
        offset = free_port_offset(site, rng=random.Random(seed))
        assert 20000 <= min(ports) + offset and max(ports) + offset < ephemeral_low()
