"""On-call rosters with weekly shifts in a timezone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Shift:
    """Contacts on call on ``days`` from ``start`` to ``end`` (minutes; end <= start wraps midnight)."""

    days: frozenset[int]
    start: int
    end: int
    on_call: tuple[str, ...]

    def covers(self, weekday: int, minute: int) -> bool:
        """True when the shift is on at this local weekday (0 = Monday) and minute of the day."""
        if self.start < self.end:
            return weekday in self.days and self.start <= minute < self.end
        # An overnight shift belongs to the day it starts on.
        return (weekday in self.days and minute >= self.start) or \
               ((weekday - 1) % 7 in self.days and minute < self.end)


class Roster:
    """Who is on call at a given time; ``default`` when no shift covers it."""

    def __init__(self, name: str, shifts: Sequence[Shift], default: Sequence[str], tz: str) -> None:
        self.name = name
        self.shifts = tuple(shifts)
        self.default = tuple(default)
        self.tz = ZoneInfo(tz)

    def on_call(self, at: datetime) -> tuple[str, ...]:
        """Contact ids on call at ``at`` (an aware datetime), in configuration order, no duplicates."""
        local = at.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        out: list[str] = []
        for s in self.shifts:
            if s.covers(local.weekday(), minute):
                out.extend(c for c in s.on_call if c not in out)
        return tuple(out) if out else self.default

    @classmethod
    def from_config(cls, name: str, cfg: Mapping[str, Any], site_tz: str) -> "Roster":
        """A roster from the validated ``alarms.rosters.<name>`` section."""
        shifts = [Shift(frozenset(DAYS.index(d) for d in s["days"]), _minutes(s["start"]), _minutes(s["end"]),
                        tuple(s["on_call"])) for s in cfg["shifts"]]
        return cls(name, shifts, tuple(cfg["default"]), cfg.get("timezone") or site_tz)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)
