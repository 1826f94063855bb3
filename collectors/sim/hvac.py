"""Chillers and air-handling units over Modbus, with first-order thermal physics."""

from __future__ import annotations

import math

from .clock import cooling_demand, outdoor_temp
from .points import ModbusModel, SimPoint


def _approach(value: float, target: float, dt: float, tau: float) -> float:
    """First-order lag: move ``value`` toward ``target`` with time constant ``tau``."""
    return target + (value - target) * math.exp(-dt / tau)


CHILLER_POINTS = [
    SimPoint("run_cmd", "co:0", "bool", writable=True, description="run command"),
    SimPoint("running", "di:0", "bool", description="run status"),
    SimPoint("alarm", "di:1", "bool", description="common alarm"),
    SimPoint("setpoint", "hr:0", "float32", writable=True, units="°C", description="chilled water supply setpoint"),
    SimPoint("supply_temp", "ir:0", "float32", units="°C", description="chilled water supply temperature"),
    SimPoint("return_temp", "ir:2", "float32", units="°C", description="chilled water return temperature"),
    SimPoint("power_kw", "ir:4", "float32", units="kW", description="electrical power"),
    SimPoint("cop", "ir:6", "float32", description="coefficient of performance"),
    SimPoint("alarm_code", "ir:8", "uint16", description="0 none, 1 low flow, 2 high pressure, 3 compressor trip"),
    SimPoint("run_hours", "ir:10", "float32", units="h", description="compressor run hours"),
    SimPoint("load_pct", "ir:12", "int16", scale=10, units="%", description="capacity in use"),
    SimPoint("condenser_temp", "ir:13", "int16", scale=10, units="°C", description="condenser water temperature"),
]


class Chiller(ModbusModel):
    """A water-cooled chiller: supply water follows the setpoint when running, load follows the day."""

    kind = "chillers"

    def __init__(self, name, rng, params):
        super().__init__(name, CHILLER_POINTS, rng, params)
        self.capacity_kw = float(params.get("capacity_kw", 1200.0))
        self.set("setpoint", 7.0)
        self.set("supply_temp", 12.0)
        self.set("return_temp", 12.5)
        self.set("condenser_temp", 30.0)
        self.set("run_cmd", bool(params.get("running", 1)))
        self._hours = float(params.get("run_hours", 10000.0 + rng.random() * 5000))
        self._supply = 12.0

    def step(self, dt: float, hour: float) -> None:
        """Run status follows the command; supply water follows the setpoint; load follows the day."""
        cmd = bool(self.get("run_cmd")) and not self.failed
        self.set("running", cmd)
        load = min(1.0, max(0.0, cooling_demand(hour) * (0.9 + 0.2 * self.rng.random())))
        sp = self.get("setpoint")
        if cmd:
            self._supply = _approach(self._supply, sp, dt, 180.0)
            cop = 6.2 - 1.6 * (1 - load) - 0.05 * (outdoor_temp(hour) - 30)
            self._hours += dt / 3600
            power = load * self.capacity_kw / max(cop, 1.0)
        else:
            self._supply = _approach(self._supply, 16.0, dt, 900.0)
            cop, power, load = 0.0, 0.0, 0.0
        self.set("supply_temp", self._supply)
        self.set("return_temp", self._supply + 5.0 * max(load, 0.1))
        self.set("power_kw", power)
        self.set("cop", cop)
        self.set("load_pct", load * 100)
        self.set("run_hours", self._hours)
        self.set("condenser_temp", outdoor_temp(hour) + (5.0 * load if cmd else 0.0))
        self.set("alarm", self.failed)
        self.set("alarm_code", 3 if self.failed else 0)


AHU_POINTS = [
    # Float registers for the analog points: the control loops write fractional valve
    # positions and read tenths of a degree (scaled int16 points are on the chillers).
    SimPoint("fan_cmd", "co:0", "bool", writable=True, description="supply fan command"),
    SimPoint("fan_status", "di:0", "bool", description="supply fan running"),
    SimPoint("valve_pct", "hr:0", "float32", writable=True, units="%", description="chilled water valve"),
    SimPoint("sat_setpoint", "hr:2", "float32", writable=True, units="°C", description="supply air setpoint"),
    SimPoint("supply_air_temp", "ir:0", "float32", units="°C", description="supply air temperature"),
    SimPoint("return_air_temp", "ir:2", "float32", units="°C", description="return air temperature"),
    SimPoint("mixed_air_temp", "ir:4", "float32", units="°C", description="mixed air temperature"),
    SimPoint("filter_dp", "ir:6", "uint16", units="Pa", description="filter differential pressure"),
    SimPoint("airflow", "ir:8", "float32", units="m³/h", description="supply airflow"),
    SimPoint("fan_hours", "ir:10", "float32", units="h", description="fan run hours"),
]


class AirHandler(ModbusModel):
    """An AHU: supply air responds to the chilled-water valve with a first-order lag.

    The steady-state supply temperature is the mixed air cooled by the coil in
    proportion to the valve; a seeded random walk disturbs the return air
    (occupancy, solar gain) so a control loop has something to reject.
    """

    kind = "ahus"

    def __init__(self, name, rng, params):
        super().__init__(name, AHU_POINTS, rng, params)
        self.tau = float(params.get("tau", 90.0))
        self.chw_temp = float(params.get("chw_temp", 7.0))
        self.nominal_flow = float(params.get("airflow", 12000.0))
        self._sat = 24.0
        self._disturbance = 0.0
        self._dp = float(params.get("filter_dp", 120.0 + 40 * rng.random()))
        self._hours = float(params.get("fan_hours", 2000.0 * rng.random()))
        self.set("fan_cmd", True)
        self.set("valve_pct", float(params.get("valve_pct", 40.0)))
        self.set("sat_setpoint", 14.0)

    def steady_supply(self, valve: float, mixed: float) -> float:
        """Supply air temperature the coil reaches at ``valve`` (0..1) and ``mixed`` air."""
        coil_leaving = self.chw_temp + 3.0
        return mixed - valve * 0.85 * (mixed - coil_leaving)

    def step(self, dt: float, hour: float) -> None:
        """Advance the coil's first-order response, the disturbance and the filter loading."""
        fan = bool(self.get("fan_cmd")) and not self.failed
        self.set("fan_status", fan)
        self._disturbance += self.rng.gauss(0.0, 0.05) * math.sqrt(max(dt, 0.0)) - 0.01 * self._disturbance * dt
        ret = 23.5 + 2.0 * cooling_demand(hour) + self._disturbance
        mixed = 0.75 * ret + 0.25 * outdoor_temp(hour)
        valve = min(max(self.get("valve_pct") / 100.0, 0.0), 1.0)
        if fan:
            self._sat = _approach(self._sat, self.steady_supply(valve, mixed), dt, self.tau)
            self._hours += dt / 3600
            self._dp += 2.0 * dt / 3600          # filters load up as air goes through
            flow = self.nominal_flow * (0.97 + 0.06 * self.rng.random())
        else:
            self._sat = _approach(self._sat, ret, dt, 4 * self.tau)
            flow = 0.0
        self.set("supply_air_temp", self._sat)
        self.set("return_air_temp", ret)
        self.set("mixed_air_temp", mixed)
        self.set("filter_dp", self._dp if fan else 0.0)
        self.set("airflow", flow)
        self.set("fan_hours", self._hours)

    def replace_filter(self) -> None:
        """Maintenance: a clean filter (for work-order tests)."""
        self._dp = 90.0
