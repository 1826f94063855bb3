"""Utility meters over Modbus: kWh (uint32, rolls over), kW, voltage, current, water m³."""

from __future__ import annotations

from .clock import PATTERNS
from .points import ModbusModel, SimPoint

METER_POINTS = [
    SimPoint("energy_kwh", "ir:0", "uint32", scale=100, units="kWh", description="active energy import"),
    SimPoint("power_kw", "ir:2", "float32", units="kW", description="active power"),
    SimPoint("voltage", "ir:4", "float32", units="V", description="phase voltage"),
    SimPoint("current_a", "ir:6", "float32", units="A", description="phase current"),
    SimPoint("water_m3", "ir:8", "uint32", scale=1000, units="m³", description="water volume"),
]
KWH_ROLLOVER = 2**32 / 100          # the register counts 0.01 kWh and wraps like a real meter


class Meter(ModbusModel):
    """Consumption follows a daily pattern for its profile (residential, retail, common)."""

    kind = "meters"

    def __init__(self, name, rng, params):
        super().__init__(name, METER_POINTS, rng, params, bank_size=64)
        self.profile = PATTERNS.get(str(params.get("profile", "residential")), PATTERNS["residential"])
        self.peak_kw = float(params.get("peak_kw", 4.0 + 4.0 * rng.random()))
        self.water_lpm = float(params.get("peak_water_lpm", 6.0))
        self._kwh = float(params.get("energy_kwh", 1000 + 20000 * rng.random())) % KWH_ROLLOVER
        self._m3 = float(params.get("water_m3", 50 + 500 * rng.random()))
        self.set("energy_kwh", self._kwh)
        self.set("water_m3", self._m3)

    def step(self, dt: float, hour: float) -> None:
        """Integrate energy and water at the profile's current level."""
        level = self.profile(hour)
        kw = self.peak_kw * level * (0.9 + 0.2 * self.rng.random()) if not self.failed else 0.0
        volts = 230.0 + self.rng.gauss(0.0, 1.5)
        self._kwh = (self._kwh + kw * dt / 3600.0) % KWH_ROLLOVER
        self._m3 += self.water_lpm * level * self.rng.random() * dt / 60.0 / 1000.0
        self.set("energy_kwh", self._kwh)
        self.set("power_kw", kw)
        self.set("voltage", volts)
        self.set("current_a", kw * 1000.0 / volts)
        self.set("water_m3", self._m3)
