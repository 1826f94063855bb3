"""Meter readings for billing: which meter a unit has, and the checks before a reading is billed.

Readings come from the historian (``ctx.provides["history"]``: ``value_at_many``,
or ``value_at`` per path) at the period boundaries. A consumption is only billed
when both readings exist, are Good, are fresh (at most ``max_age`` before the
boundary) and the end is not lower than the start; otherwise the line is held
for review with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

METER_ID = re.compile(r"^(?P<building>[^/]+)/meter-(?P<suffix>[A-Za-z0-9_\-]+)$")


@dataclass(frozen=True, slots=True)
class Reading:
    """One boundary reading as billed: value (exact decimal string), timestamp and quality name."""

    path: str
    value: Decimal | None
    ts: datetime | None
    quality: str
    good: bool

    def json(self) -> dict:
        """JSON form for the bill line's detail."""
        return {"path": self.path, "value": str(self.value) if self.value is not None else None,
                "ts": self.ts.isoformat() if self.ts else None, "quality": self.quality}


@dataclass(frozen=True, slots=True)
class Consumption:
    """Consumption between two readings, or the reason it cannot be billed (``held``)."""

    start: Reading
    end: Reading
    quantity: Decimal | None
    hold_reason: str = ""

    @property
    def held(self) -> bool:
        """True when the line must be held for review."""
        return self.quantity is None


def meter_for_units(equipment: Iterable[Any], units: Sequence[tuple[str, str]],
                    overrides: dict[str, str] | None = None) -> dict[tuple[str, str], str]:
    """Map (building code, unit code) → meter equipment id.

    Convention: equipment of class ``meter`` named ``<building>/meter-<n>`` is
    the meter of the unit whose code without leading zeros is ``n`` (``0201`` ↔
    ``meter-201``); ``overrides`` (``"tower-a/0201": "tower-a/meter-x"``) win.
    """
    by_key: dict[tuple[str, str], str] = {}
    for eq in equipment:
        if getattr(eq, "equipment_class", "") != "meter":
            continue
        m = METER_ID.match(eq.id)
        if m:
            by_key[(m["building"], m["suffix"].lstrip("0"))] = eq.id
    out = {}
    for b, code in units:
        eid = by_key.get((b, code.lstrip("0")))
        if eid:
            out[(b, code)] = eid
    for key, eid in (overrides or {}).items():
        b, _, code = key.partition("/")
        out[(b, code)] = eid
    return out


def to_reading(path: str, point: Any) -> Reading:
    """A historian point (or None) → :class:`Reading` (value made an exact Decimal)."""
    if point is None:
        return Reading(path, None, None, "missing", False)
    value = point.value
    q = point.quality
    good = bool(getattr(q, "is_good", False))
    try:
        d = Decimal(str(value)) if value is not None and not isinstance(value, bool) else None
    except ArithmeticError:
        d = None
    if d is not None and not d.is_finite():
        d = None
    # a float register value like 1234.5600000001 is rounded to the meter's resolution
    if d is not None:
        d = d.quantize(Decimal("0.001"))
    return Reading(path, d, point.ts, getattr(q, "name", str(q)), good and d is not None)


def consumption(start: Reading, end: Reading, boundary_start: datetime, boundary_end: datetime,
                max_age_s: float, rollover_at: Decimal | None = None) -> Consumption:
    """Check both readings and return the consumption or the reason to hold the line."""
    for label, r, boundary in (("start", start, boundary_start), ("end", end, boundary_end)):
        if r.value is None and r.quality == "missing":
            return Consumption(start, end, None, f"missing {label} reading")
        if not r.good:
            return Consumption(start, end, None, f"{label} reading has quality {r.quality}")
        if r.ts is not None and (boundary - r.ts).total_seconds() > max_age_s:
            return Consumption(start, end, None, f"{label} reading is stale ({r.ts.isoformat()})")
    if end.value < start.value:
        if rollover_at is not None and start.value > rollover_at / 2 and end.value < rollover_at / 2:
            return Consumption(start, end, None, f"meter rollover (counter wrapped at {rollover_at})")
        return Consumption(start, end, None, "reading decreased (meter replaced or rolled over)")
    return Consumption(start, end, end.value - start.value)


def rollover_of(tag: Any) -> Decimal | None:
    """The engineering value at which an unsigned counter tag wraps (from its type and scaling)."""
    bits = {"uint16": 16, "uint32": 32, "uint64": 64}.get(getattr(tag, "data_type", ""))
    if bits is None:
        return None
    raw = Decimal(2 ** bits)
    sc = getattr(tag, "scaling", None)
    if sc is None:
        return raw
    try:
        r0, r1, e0, e1 = sc.raw_lo, sc.raw_hi, sc.eng_lo, sc.eng_hi
        return Decimal(str(e0)) + (raw - Decimal(str(r0))) * (Decimal(str(e1)) - Decimal(str(e0))) / \
            (Decimal(str(r1)) - Decimal(str(r0)))
    except (AttributeError, TypeError, ValueError, ArithmeticError):
        return None


async def read_boundaries(history: Any, paths: Sequence[str], start: datetime, end: datetime,
                          concurrency: int = 16) -> dict[str, tuple[Reading, Reading]]:
    """The readings of every path at the period's start and end (historian ``value_at``).

    A history with ``value_at_many`` (the historian and its sinks) answers each
    boundary for every path in one batched call. Without it, one ``value_at``
    per path and boundary runs, up to ``concurrency`` in flight at once
    (InfluxDB answers them in parallel; the embedded store queues them on its
    reader thread). A path the historian cannot answer for (an error, here
    for a whole boundary when the batched call fails) counts as missing: the
    line is held, never billed from a guess.
    """
    paths = list(paths)
    if history is None or not paths:
        return {p: (to_reading(p, None), to_reading(p, None)) for p in paths}
    if getattr(history, "value_at_many", None) is not None:
        return await _read_batched(history, paths, start, end)
    return await _read_per_path(history, paths, start, end, concurrency)


async def _read_batched(history: Any, paths: list[str], start: datetime,
                        end: datetime) -> dict[str, tuple[Reading, Reading]]:
    at: list[dict] = []
    for ts in (start, end):
        try:
            points = await history.value_at_many(paths, ts)
        except Exception:  # a failed query must hold the lines, whatever the sink raised
            points = {}
        at.append(points)
    return {p: (to_reading(p, at[0].get(p)), to_reading(p, at[1].get(p))) for p in paths}


async def _read_per_path(history: Any, paths: list[str], start: datetime, end: datetime,
                         concurrency: int) -> dict[str, tuple[Reading, Reading]]:
    from twisted.internet.defer import Deferred, DeferredSemaphore, gatherResults

    async def one(path: str, ts: datetime) -> Reading:
        try:
            point = await history.value_at(path, ts)
        except Exception:  # a failed query must hold the line, whatever the sink raised
            point = None
        return to_reading(path, point)

    sem = DeferredSemaphore(max(1, concurrency))
    jobs = [sem.run(lambda p=p, ts=ts: Deferred.fromCoroutine(one(p, ts))) for p in paths for ts in (start, end)]
    results = await gatherResults(jobs)
    return {p: (results[2 * i], results[2 * i + 1]) for i, p in enumerate(paths)}
