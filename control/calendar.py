"""Weekly time programs and holiday calendars (pure date/time logic, no I/O).

A calendar lists holidays and make-up working days (调休上班: a Saturday or
Sunday worked to bridge a holiday) as data. A program maps each weekday to
periods ("07:00-19:00"; "22:00-06:00" runs past midnight). On a holiday the
program's ``holiday`` periods apply; on a make-up working day its ``workday``
periods (by default those of Monday).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*(([01]\d|2[0-3]):([0-5]\d)|24:00)\s*$")


def parse_period(text: str) -> tuple[int, int]:
    """"HH:MM-HH:MM" to (start minute, end minute); end ≤ start means past midnight."""
    m = _PERIOD.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a period like 07:30-19:00")
    start = int(m.group(1)) * 60 + int(m.group(2))
    end = 1440 if m.group(3) == "24:00" else int(m.group(4)) * 60 + int(m.group(5))
    if start == end:
        raise ValueError(f"period {text!r} is empty")
    return start, end


@dataclass(frozen=True)
class Calendar:
    """Exception days: holidays (with names) and make-up working days."""

    name: str
    holidays: dict = field(default_factory=dict)   # date -> name
    workdays: dict = field(default_factory=dict)   # date -> name

    def day_type(self, day: date) -> str:
        """"holiday", "workday" (a make-up working day) or the weekday ("mon".."sun")."""
        if day in self.workdays:
            return "workday"
        if day in self.holidays:
            return "holiday"
        return WEEKDAYS[day.weekday()]

    def describe(self, day: date) -> str:
        """The day's name for display (holiday name, make-up day name, or weekday)."""
        return self.holidays.get(day) or self.workdays.get(day) or WEEKDAYS[day.weekday()]


def expand_days(entries: list) -> dict:
    """Calendar entries (``{date, name}`` or ``{from, to, name}``) to {date: name}."""
    out: dict = {}
    for e in entries:
        name = e.get("name") or ""
        if e.get("date") is not None:
            out[e["date"]] = name
        else:
            day, end = e["from"], e["to"]
            while day <= end:
                out[day] = name
                day += timedelta(days=1)
    return out


@dataclass(frozen=True)
class WeekProgram:
    """Periods per day type; ``is_on`` answers for any local time."""

    days: dict            # day type -> tuple of (start_min, end_min)
    calendar: Calendar | None = None

    def periods(self, day: date) -> tuple:
        """The periods that start on ``day``."""
        kind = self.calendar.day_type(day) if self.calendar else WEEKDAYS[day.weekday()]
        if kind == "workday":
            return self.days.get("workday", self.days.get("mon", ()))
        if kind == "holiday":
            return self.days.get("holiday", self.days.get("sun", ()))
        return self.days.get(kind, ())

    def is_on(self, local: datetime) -> bool:
        """True when ``local`` (a wall-clock time in the site's zone) is inside a period."""
        minute = local.hour * 60 + local.minute
        today = local.date()
        for start, end in self.periods(today):
            if (start < end and start <= minute < end) or (end < start and minute >= start):
                return True
        # A period that started yesterday and runs past midnight.
        for start, end in self.periods(today - timedelta(days=1)):
            if end < start and minute < end:
                return True
        return False

    def next_change(self, local: datetime, horizon_days: int = 8) -> datetime | None:
        """The next wall-clock minute at which ``is_on`` changes (None within the horizon)."""
        state = self.is_on(local)
        candidates = set()
        for offset in range(-1, horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            for start, end in self.periods(day):
                for minute in (start, end):
                    moment = datetime.combine(day, time(0), tzinfo=local.tzinfo) + timedelta(minutes=minute)
                    if end < start and minute == end:
                        moment += timedelta(days=1)
                    if moment > local:
                        candidates.add(moment)
            for boundary in (datetime.combine(day, time(0), tzinfo=local.tzinfo),):
                if boundary > local:
                    candidates.add(boundary)
        for moment in sorted(candidates):
            if self.is_on(moment) != state:
                return moment
        return None


def build_program(days: dict, calendar: Calendar | None) -> WeekProgram:
    """A WeekProgram from validated config (``weekdays``/``weekend``/``daily`` shorthands)."""
    table: dict = {}
    shorthands = {"daily": WEEKDAYS, "weekdays": WEEKDAYS[:5], "weekend": WEEKDAYS[5:]}
    for key in ("daily", "weekdays", "weekend"):
        if days.get(key) is not None:
            for d in shorthands[key]:
                table[d] = tuple(parse_period(p) for p in days[key])
    for key in (*WEEKDAYS, "holiday", "workday"):
        if days.get(key) is not None:
            table[key] = tuple(parse_period(p) for p in days[key])
    return WeekProgram(table, calendar)
