"""Lighting panels over Modbus: circuits as coils, feedback inputs, lux per circuit zone."""

from __future__ import annotations

from .clock import daylight
from .points import ModbusModel, SimPoint


def lighting_points(circuits: int) -> list[SimPoint]:
    """Points of a panel with ``circuits`` circuits (numbered from 1)."""
    pts = []
    for c in range(1, circuits + 1):
        pts += [SimPoint(f"circuit_{c}_cmd", f"co:{c}", "bool", writable=True, description=f"circuit {c} command"),
                SimPoint(f"circuit_{c}_status", f"di:{c}", "bool", description=f"circuit {c} on"),
                SimPoint(f"circuit_{c}_lux", f"ir:{c}", "uint16", units="lx", description=f"circuit {c} zone lux")]
    return pts


class LightingPanel(ModbusModel):
    """Circuits switch one step after their command; lux = daylight × window factor + lamps."""

    kind = "lighting"

    def __init__(self, name, rng, params):
        self.circuits = int(params.get("circuits", 8))
        super().__init__(name, lighting_points(self.circuits), rng, params)
        self.window = float(params.get("window_factor", 0.3))
        self.lamp_lux = float(params.get("lamp_lux", 320.0))
        self.failed_circuits: set[int] = set()
        for c in range(1, self.circuits + 1):
            self.set(f"circuit_{c}_cmd", c % 2 == 1)

    def step(self, dt: float, hour: float) -> None:
        """Feedback follows the command; lux follows daylight and the lamps."""
        sun = 1000.0 * self.window * daylight(hour)
        for c in range(1, self.circuits + 1):
            on = bool(self.get(f"circuit_{c}_cmd")) and c not in self.failed_circuits
            self.set(f"circuit_{c}_status", on)
            lux = sun + (self.lamp_lux if on else 0.0) + self.rng.uniform(-5, 5)
            self.set(f"circuit_{c}_lux", max(0.0, lux))
