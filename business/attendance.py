"""Lateness and absence per rostered shift, computed from clock-in/clock-out records.

Shift times are local to the property's timezone; clock records are UTC. A
clock-in counts for a shift from two hours before its start until its end, a
clock-out from its start until four hours after its end. Late means the first
clock-in is after start + grace; absent means no clock-in at all once the shift
has ended.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ClockRecord, Property, RosterEntry, Shift, Staff

EARLY_IN = timedelta(hours=2)
LATE_OUT = timedelta(hours=4)


def shift_window(day: date, shift: Shift, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Start and end of a shift on a day as aware datetimes (night shifts end the next day)."""
    start = datetime.combine(day, shift.start, tz)
    end_day = day if shift.end > shift.start else day + timedelta(days=1)
    return start, datetime.combine(end_day, shift.end, tz)


def evaluate(start: datetime, end: datetime, grace_minutes: int, ins: list[datetime], outs: list[datetime],
             now: datetime) -> dict:
    """Status of one rostered shift given the clock events (pure function)."""
    first_in = min((t for t in ins if start - EARLY_IN <= t <= end), default=None)
    last_out = max((t for t in outs if start <= t <= end + LATE_OUT), default=None)
    late = 0
    early = 0
    if first_in is None:
        status = "absent" if now >= end else ("not_started" if now < start else "missing")
    else:
        if first_in > start + timedelta(minutes=grace_minutes):
            late = math.ceil((first_in - start).total_seconds() / 60)
        if last_out is not None and last_out < end:
            early = math.ceil((end - last_out).total_seconds() / 60)
        if last_out is None and now >= end + LATE_OUT:
            status = "no_clock_out"
        elif late:
            status = "late"
        elif early:
            status = "early_leave"
        else:
            status = "present"
    return {"status": status, "late_minutes": late, "early_leave_minutes": early,
            "clock_in": first_in.isoformat() if first_in else None,
            "clock_out": last_out.isoformat() if last_out else None}


def summary(s: Session, now: datetime, start_day: date, end_day: date, staff_ids: list[int] | None = None) -> list[dict]:
    """One row per roster entry between the two days (inclusive)."""
    stmt = (select(RosterEntry, Shift, Staff, Property.timezone)
            .join(Shift, RosterEntry.shift_id == Shift.id).join(Staff, RosterEntry.staff_id == Staff.id)
            .join(Property, Staff.property_id == Property.id)
            .where(RosterEntry.day >= start_day, RosterEntry.day <= end_day).order_by(RosterEntry.day, Staff.id))
    if staff_ids is not None:
        stmt = stmt.where(RosterEntry.staff_id.in_(staff_ids))
    out = []
    for entry, shift, staff, tzname in s.execute(stmt):
        tz = ZoneInfo(tzname)
        start, end = shift_window(entry.day, shift, tz)
        clocks = s.execute(select(ClockRecord.kind, ClockRecord.at).where(
            ClockRecord.staff_id == staff.id, ClockRecord.at >= start - EARLY_IN, ClockRecord.at <= end + LATE_OUT))
        ins, outs = [], []
        for kind, at in clocks:
            (ins if kind == "in" else outs).append(at)
        row = evaluate(start, end, shift.grace_minutes, ins, outs, now)
        row.update({"staff_id": staff.id, "employee_no": staff.employee_no, "name": staff.name,
                    "day": entry.day.isoformat(), "shift": shift.code,
                    "start": start.isoformat(), "end": end.isoformat()})
        out.append(row)
    return out


def on_duty(s: Session, now: datetime, skill: str | None = None) -> list[int]:
    """Staff ids clocked in for a shift running now (optionally with a skill): for work-order assignment."""
    rows = summary(s, now, (now - timedelta(days=1)).date(), now.date())
    ids = []
    for r in rows:
        start, end = datetime.fromisoformat(r["start"]), datetime.fromisoformat(r["end"])
        if start <= now <= end and r["clock_in"] and not r["clock_out"]:
            if skill is None or skill in (s.get(Staff, r["staff_id"]).skills or []):
                ids.append(r["staff_id"])
    return sorted(set(ids))
