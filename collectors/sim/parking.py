"""A car park over Modbus: two barriers with loop detectors, per-space sensors, counters.

Vehicles arrive and leave on a daily pattern (Poisson per step). An arriving
vehicle sits on the entry loop, the barrier opens (automatically, or by the
``barrier_N_open_cmd`` coil when operators drive it), the vehicle passes, the
barrier closes, the entry counter counts, and a free space becomes occupied.
"""

from __future__ import annotations

import math

from .clock import bump
from .points import ModbusModel, SimPoint

SPACE_BASE = 0          # space n (1-based) is discrete input n
BARRIERS = 2


def parking_points(spaces: int) -> list[SimPoint]:
    """Points of a car park with ``spaces`` spaces and two barriers (1 entry, 2 exit)."""
    pts = [SimPoint(f"space_{n}", f"di:{SPACE_BASE + n}", "bool", description=f"space {n} occupied")
           for n in range(1, spaces + 1)]
    for b in range(1, BARRIERS + 1):
        pts += [SimPoint(f"barrier_{b}_open_cmd", f"co:{b}", "bool", writable=True, description=f"barrier {b} open command"),
                SimPoint(f"barrier_{b}_open", f"di:{1000 + b}", "bool", description=f"barrier {b} open"),
                SimPoint(f"barrier_{b}_vehicle", f"di:{1010 + b}", "bool", description=f"barrier {b} loop detector")]
    pts += [SimPoint("occupied", "ir:0", "uint16", description="occupied spaces"),
            SimPoint("free", "ir:1", "uint16", description="free spaces"),
            SimPoint("entries", "ir:2", "uint32", description="vehicles in (counter)"),
            SimPoint("exits", "ir:4", "uint32", description="vehicles out (counter)")]
    return pts


class _Barrier:
    """One barrier: waiting vehicles, open timer."""

    def __init__(self) -> None:
        self.queue = 0
        self.open_for = 0.0     # seconds the barrier stays open
        self.passing = 0.0


class CarPark(ModbusModel):
    """The car park controller."""

    kind = "parking"

    def __init__(self, name, rng, params):
        self.spaces = int(params.get("spaces", 200))
        super().__init__(name, parking_points(self.spaces), rng, params, bank_size=2048)
        self.peak_rate = float(params.get("peak_arrivals_per_hour", 90.0))
        self.barriers = {b: _Barrier() for b in range(1, BARRIERS + 1)}
        self.stuck: set[int] = set()          # barriers that no longer open (fault injection)
        self._occupied = [False] * self.spaces
        for n in rng.sample(range(self.spaces), int(self.spaces * float(params.get("initial_occupancy", 0.35)))):
            self._occupied[n] = True
        self._entries = int(params.get("entries", 0))
        self._exits = int(params.get("exits", 0))
        self._publish()

    def arrival_rate(self, hour: float) -> float:
        """Vehicles per hour arriving (residents leave at 8, shoppers arrive at noon and 19)."""
        return self.peak_rate * (0.1 + 0.5 * bump(hour, 12.5, 2.5) + 0.8 * bump(hour, 19.0, 1.5))

    def departure_rate(self, hour: float) -> float:
        """Vehicles per hour leaving."""
        return self.peak_rate * (0.1 + 0.8 * bump(hour, 8.0, 1.2) + 0.5 * bump(hour, 16.0, 2.5))

    def _poisson(self, rate_per_hour: float, dt: float) -> int:
        lam = rate_per_hour * dt / 3600.0
        k, p, limit = 0, 1.0, math.exp(-lam)
        while True:
            p *= self.rng.random()
            if p <= limit:
                return k
            k += 1

    def step(self, dt: float, hour: float) -> None:
        """Arrivals and departures queue at the barriers, pass, and fill or free spaces."""
        free = self._occupied.count(False)
        self.barriers[1].queue += min(self._poisson(self.arrival_rate(hour), dt), free)
        occupied = self.spaces - free
        self.barriers[2].queue += min(self._poisson(self.departure_rate(hour), dt), occupied)
        for b, bar in self.barriers.items():
            commanded = bool(self.get(f"barrier_{b}_open_cmd"))
            if b in self.stuck:
                bar.open_for = 0.0
            elif bar.queue and bar.open_for <= 0:
                bar.open_for = 6.0                 # auto-open for a ticketed vehicle
            if bar.open_for > 0:
                bar.passing += dt
                while bar.passing >= 6.0 and bar.queue:
                    bar.passing -= 6.0
                    bar.queue -= 1
                    self._move(b)
                bar.open_for -= dt
                if bar.open_for <= 0 and bar.queue:
                    bar.open_for = 6.0
            else:
                bar.passing = 0.0
            self.set(f"barrier_{b}_open", (bar.open_for > 0 or commanded) and b not in self.stuck)
            self.set(f"barrier_{b}_vehicle", bar.queue > 0)
        self._publish()

    def _move(self, barrier: int) -> None:
        if barrier == 1:
            free = [i for i, o in enumerate(self._occupied) if not o]
            if free:
                self._occupied[self.rng.choice(free)] = True
                self._entries += 1
        else:
            taken = [i for i, o in enumerate(self._occupied) if o]
            if taken:
                self._occupied[self.rng.choice(taken)] = False
                self._exits += 1

    def _publish(self) -> None:
        for n, occ in enumerate(self._occupied, start=1):
            self.set(f"space_{n}", occ)
        occupied = sum(self._occupied)
        self.set("occupied", occupied)
        self.set("free", self.spaces - occupied)
        self.set("entries", self._entries)
        self.set("exits", self._exits)
