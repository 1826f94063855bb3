"""Simulated Modbus points and the base class of Modbus equipment models.

A model owns one unit's :class:`RegisterBank` and names its points the way the
demo templates name their tags, so tests and fault injection speak in tag
terms (``supply_temp``), not register numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..errors import SimulatorError
from ..modbus.codec import Address, parse_address
from .modbus_server import RegisterBank


@dataclass(frozen=True)
class SimPoint:
    """One point: name, Modbus address, data type, ``raw = eng * scale``, writable by clients."""

    name: str
    address: str
    data_type: str
    scale: float = 1.0
    writable: bool = False
    units: str = ""
    description: str = ""

    @property
    def addr(self) -> Address:
        """The parsed address."""
        return parse_address(self.address, self.data_type)


class ModbusModel:
    """Base of simulated Modbus equipment: point access by name, freeze, physics ``step``."""

    kind = "base"

    def __init__(self, name: str, points: list[SimPoint], rng: random.Random, params: dict[str, Any],
                 bank_size: int = 1024) -> None:
        self.name = name
        self.points = {p.name: p for p in points}
        self._addr = {p.name: p.addr for p in points}
        self.rng = rng
        self.params = dict(params)
        self.bank = RegisterBank(bank_size)
        self.failed = False          # a fault that the model itself reports (alarm code)

    def point(self, name: str) -> SimPoint:
        """A point by name (SimulatorError names the known ones)."""
        try:
            return self.points[name]
        except KeyError:
            raise SimulatorError(f"{self.name} has no point {name!r} (known: {', '.join(sorted(self.points))})") from None

    def point_at(self, address: str, data_type: str) -> SimPoint:
        """The point stored at a tag's ``address`` (same table, offset and bit)."""
        want = parse_address(address, data_type)
        for name, a in self._addr.items():
            if (a.table, a.offset, a.bit) == (want.table, want.offset, want.bit):
                return self.points[name]
        raise SimulatorError(f"{self.name} has no point at {address!r}")

    def get(self, name: str):
        """The engineering value of a point as the device holds it now."""
        p = self.point(name)
        raw = self.bank.get(self._addr[name], p.data_type)
        if p.data_type in ("bool", "string"):
            return raw
        return raw / p.scale if p.scale != 1.0 else raw

    def set(self, name: str, value, force: bool = False) -> None:
        """Store an engineering value (frozen points keep theirs unless ``force``)."""
        p = self.point(name)
        raw = value
        if p.data_type not in ("bool", "string"):
            raw = value * p.scale
            if not p.data_type.startswith("float"):
                raw = int(round(raw))
                if p.data_type.startswith("uint"):
                    bits = 16 if p.data_type == "uint16" else 32 if p.data_type == "uint32" else 64
                    raw %= 1 << bits       # counters roll over like the real registers
        self.bank.put(self._addr[name], p.data_type, raw, force=force)

    def freeze(self, name: str, value=None) -> None:
        """Stop the physics updating a point (optionally pinning it to ``value``)."""
        if value is not None:
            self.set(name, value, force=True)
        a = self._addr[self.point(name).name]
        self.bank.frozen.add((a.table, a.offset))

    def unfreeze(self, name: str) -> None:
        """Let the physics update a point again."""
        a = self._addr[self.point(name).name]
        self.bank.frozen.discard((a.table, a.offset))

    def step(self, dt: float, hour: float) -> None:
        """Advance the physics by ``dt`` simulated seconds at simulated local ``hour``."""
        raise NotImplementedError  # every model overrides it

    def on_write(self, table: str, offset: int, count: int) -> None:
        """A client wrote to the bank (models react on their next step by default)."""
