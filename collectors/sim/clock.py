"""Simulated time: the injected clock scaled by ``time_scale``, and daily patterns.

Physics steps in simulated seconds; daily patterns are functions of the
simulated local hour, so a demo at ``time_scale: 60`` shows a day in 24 minutes.
"""

from __future__ import annotations

import math
import random
import zlib
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


class SimClock:
    """Maps the injected clock to simulated local time."""

    def __init__(self, clock, time_scale: float = 1.0, tz: str = "UTC", start_hour: float | None = None) -> None:
        self._clock = clock
        self.time_scale = time_scale
        self.tz = ZoneInfo(tz)
        self._t0 = clock.seconds()
        start = datetime.fromtimestamp(self._t0, tz=timezone.utc).astimezone(self.tz)
        if start_hour is not None:
            midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
            start = midnight + timedelta(hours=start_hour)
        self._start = start

    def now(self) -> datetime:
        """Simulated local time."""
        return self._start + timedelta(seconds=(self._clock.seconds() - self._t0) * self.time_scale)

    def hour(self) -> float:
        """Simulated local hour of day, 0 ≤ h < 24."""
        n = self.now()
        return n.hour + n.minute / 60 + n.second / 3600


def seeded(seed: int, name: str) -> random.Random:
    """A random generator for ``name`` that does not depend on Python's hash seed."""
    return random.Random((seed << 32) ^ zlib.crc32(name.encode()))


def bump(hour: float, center: float, width: float) -> float:
    """A smooth daily bump (Gaussian in hours, wrapping around midnight)."""
    d = min(abs(hour - center), 24 - abs(hour - center))
    return math.exp(-0.5 * (d / width) ** 2)


def residential_load(hour: float) -> float:
    """Relative electricity use of a home: low at night, peaks at 7:30 and 20:00 (0..1)."""
    return min(1.0, 0.15 + 0.35 * bump(hour, 7.5, 1.2) + 0.6 * bump(hour, 20.0, 2.0))


def retail_load(hour: float) -> float:
    """A shop: closed at night, open 10–22."""
    return 0.1 + 0.9 * (1 if 10 <= hour < 22 else 0) * (0.7 + 0.3 * bump(hour, 15, 3))


def common_load(hour: float) -> float:
    """Common areas: lifts and pumps by day, lighting at night."""
    return 0.5 + 0.2 * bump(hour, 8, 2) + 0.3 * (1 if hour < 6 or hour >= 18 else 0)


def daylight(hour: float) -> float:
    """Outdoor daylight, 0 at night, 1 at solar noon (sunrise 6:00, sunset 18:00)."""
    if not 6 <= hour <= 18:
        return 0.0
    return math.sin(math.pi * (hour - 6) / 12)


def outdoor_temp(hour: float) -> float:
    """Outdoor air °C: 26 before dawn, 34 mid-afternoon."""
    return 30 + 4 * math.cos(2 * math.pi * (hour - 15) / 24)


def cooling_demand(hour: float) -> float:
    """Relative building cooling load (0.2 at night .. 1.0 at 15:00)."""
    return 0.2 + 0.8 * bump(hour, 15, 4)


PATTERNS = {"residential": residential_load, "retail": retail_load, "common": common_load}
