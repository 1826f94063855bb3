"""Elevator physics: calls on a daily pattern, travel, doors, trips, run hours, faults.

Pure Python (no protocol): :mod:`collectors.sim.opcua_server` serves the cars'
state as OPC UA variables. Fault codes: 0 none, 1 door fault, 2 overload,
3 entrapment (car stopped between floors with the door closed; the emergency
call button is pressed a little later), 4 out of service (safety circuit).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import bump

FAULTS = {"none": 0, "door": 1, "overload": 2, "entrapment": 3, "safety": 4}
DOOR_CLOSED, DOOR_OPENING, DOOR_OPEN, DOOR_CLOSING = 0, 1, 2, 3

#: OPC UA variable name → (tag point name, data type, writable, description)
VARIABLES = {
    "CurrentFloor": ("current_floor", "int16", False, "floor the car is at or passing"),
    "Direction": ("direction", "int16", False, "-1 down, 0 idle, 1 up"),
    "DoorState": ("door_state", "int16", False, "0 closed, 1 opening, 2 open, 3 closing"),
    "Running": ("running", "bool", False, "car moving"),
    "InService": ("in_service", "bool", True, "in service (write false to take out of service)"),
    "LoadPercent": ("load_pct", "float64", False, "car load, % of rated"),
    "Trips": ("trips", "uint32", False, "completed trips"),
    "RunHours": ("run_hours", "float64", False, "motor run hours"),
    "FaultCode": ("fault_code", "int16", False, "0 none, 1 door, 2 overload, 3 entrapment, 4 safety"),
    "EmergencyCall": ("emergency_call", "bool", False, "emergency call button pressed"),
    "CallFloor": ("call_floor", "int16", True, "write a floor to send the car there"),
}


@dataclass
class CarState:
    """What the car's controller reports."""

    current_floor: int = 0
    direction: int = 0
    door_state: int = DOOR_CLOSED
    running: bool = False
    in_service: bool = True
    load_pct: float = 0.0
    trips: int = 0
    run_hours: float = 0.0
    fault_code: int = 0
    emergency_call: bool = False
    call_floor: int = 0


class Car:
    """One elevator car serving floors ``lowest``..``highest``."""

    FLOOR_TIME = 2.5      # seconds per floor
    DOOR_MOVE = 2.0
    DOOR_DWELL = 4.0

    def __init__(self, name: str, lowest: int, highest: int, rng: random.Random, busy: float = 1.0) -> None:
        self.name = name
        self.lowest, self.highest = lowest, highest
        self.rng = rng
        self.busy = busy
        self.state = CarState(current_floor=0 if lowest <= 0 <= highest else lowest,
                              trips=rng.randint(10_000, 90_000), run_hours=rng.uniform(2_000, 9_000))
        self.targets: list[int] = []
        self._timer = 0.0
        self._trapped_for = 0.0
        self.frozen: set[str] = set()

    def call_rate(self, hour: float) -> float:
        """Calls per hour: morning and evening peaks."""
        return self.busy * (6 + 40 * bump(hour, 8.0, 1.0) + 30 * bump(hour, 18.5, 1.5) + 10 * bump(hour, 12.5, 1.5))

    def request(self, floor: int) -> None:
        """A hall or car call to ``floor`` (ignored outside the car's range or when out of service)."""
        if self.lowest <= floor <= self.highest and self.state.in_service and floor not in self.targets:
            self.targets.append(floor)

    def inject(self, fault: str) -> None:
        """Inject a fault by name (see FAULTS); 'none' clears."""
        code = FAULTS[fault]
        s = self.state
        s.fault_code = code
        if code == 0:
            s.emergency_call = False
            self._trapped_for = 0.0
            return
        self.targets.clear()
        if code == FAULTS["entrapment"]:
            s.running, s.door_state, s.direction = False, DOOR_CLOSED, 0
            self._trapped_for = 0.0
        elif code == FAULTS["door"]:
            s.running, s.door_state = False, DOOR_OPEN
        elif code == FAULTS["overload"]:
            s.running, s.load_pct = False, 112.0
        else:
            s.running, s.in_service = False, False

    def step(self, dt: float, hour: float) -> None:
        """Advance ``dt`` simulated seconds."""
        s = self.state
        if s.fault_code:
            if s.fault_code == FAULTS["entrapment"]:
                self._trapped_for += dt
                s.emergency_call = self._trapped_for >= 20.0
            return
        if s.call_floor and s.call_floor != s.current_floor:
            self.request(s.call_floor)
            s.call_floor = 0
        if s.in_service and self.rng.random() < self.call_rate(hour) * dt / 3600.0:
            lobby = 0 if self.lowest <= 0 else self.lowest
            self.request(lobby if self.rng.random() < 0.5 else self.rng.randint(self.lowest, self.highest))
        self._timer -= dt
        if self._timer > 0:
            return
        if s.door_state == DOOR_OPENING:
            s.door_state, self._timer = DOOR_OPEN, self.DOOR_DWELL
        elif s.door_state == DOOR_OPEN:
            s.door_state, self._timer = DOOR_CLOSING, self.DOOR_MOVE
        elif s.door_state == DOOR_CLOSING:
            s.door_state = DOOR_CLOSED
            s.load_pct = round(self.rng.uniform(0, 70), 1) if self.targets else 0.0
        elif self.targets:
            target = self.targets[0]
            if target == s.current_floor:
                self.targets.pop(0)
                if s.running:
                    s.trips += 1
                s.running, s.direction = False, 0
                s.door_state, self._timer = DOOR_OPENING, self.DOOR_MOVE
            else:
                s.direction = 1 if target > s.current_floor else -1
                s.running = True
                s.current_floor += s.direction
                s.run_hours += self.FLOOR_TIME / 3600.0
                self._timer = self.FLOOR_TIME
        else:
            s.running, s.direction = False, 0

    def values(self) -> dict[str, object]:
        """Current values by OPC UA variable name."""
        s = self.state
        return {var: getattr(s, point) for var, (point, _, _, _) in VARIABLES.items()}
