"""Lateness, early leave and absence per rostered shift."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from business import attendance
from business.models import Shift

from .conftest import ADMIN

TZ = ZoneInfo("Asia/Shanghai")


def at(h, m, day=2):
    return datetime(2026, 11, day, h, m, tzinfo=TZ)


def test_evaluate_cases():
    start, end = at(8, 0), at(17, 0)
    after = at(23, 0)
    assert attendance.evaluate(start, end, 5, [at(7, 50)], [at(17, 5)], after)["status"] == "present"
    assert attendance.evaluate(start, end, 5, [at(8, 4)], [at(17, 0)], after)["late_minutes"] == 0
    late = attendance.evaluate(start, end, 5, [at(8, 20)], [at(17, 0)], after)
    assert (late["status"], late["late_minutes"]) == ("late", 20)
    early = attendance.evaluate(start, end, 5, [at(7, 59)], [at(16, 30)], after)
    assert (early["status"], early["early_leave_minutes"]) == ("early_leave", 30)
    assert attendance.evaluate(start, end, 5, [], [], after)["status"] == "absent"
    assert attendance.evaluate(start, end, 5, [], [], at(7, 0))["status"] == "not_started"
    assert attendance.evaluate(start, end, 5, [at(5, 0)], [], after)["status"] == "absent"   # too early to count
    assert attendance.evaluate(start, end, 5, [at(8, 0)], [], at(22, 0))["status"] == "no_clock_out"


def test_night_shift_crosses_midnight():
    night = Shift(code="night", name="n", start=time(22, 0), end=time(7, 0), grace_minutes=5)
    start, end = attendance.shift_window(date(2026, 11, 2), night, TZ)
    assert end - start == timedelta(hours=9) and end.date() == date(2026, 11, 3)


def test_summary_from_database(db, crud, world, clock):
    clock.now = datetime(2026, 11, 2, 12, 0, tzinfo=timezone.utc)   # 20:00 local, after the day shift
    rows = db.call(lambda s: attendance.summary(s, clock(), date(2026, 11, 2), date(2026, 11, 2)))
    by_staff = {r["staff_id"]: r for r in rows}
    assert by_staff[world["sA"]]["status"] == "late" and by_staff[world["sA"]]["late_minutes"] == 20
    assert by_staff[world["sB"]]["status"] == "present"
    db.call(lambda s: crud.create(s, ADMIN, "roster", {"staff_id": world["sB"], "shift_id": world["shift"],
                                                       "day": "2026-11-01"}))
    rows = db.call(lambda s: attendance.summary(s, clock(), date(2026, 11, 1), date(2026, 11, 1)))
    assert [(r["staff_id"], r["status"]) for r in rows] == [(world["sB"], "absent")]
