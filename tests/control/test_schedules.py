"""Schedules: week programs across a holiday and a make-up working day, overrides, daylight."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


from control import _async
from control.calendar import Calendar, build_program
from control.commands import SYSTEM
from control.engine import ControlEngine

from .helpers import FakeDevice, make_db, put, section, spec

TZ = ZoneInfo("Asia/Shanghai")

CONFIG = """
schedule_interval: 60s
calendars:
  cn-2026:
    holidays:
      - {from: 2026-10-01, to: 2026-10-07, name: National Day}
    workdays:
      - {date: 2026-09-27, name: National Day make-up (Sun)}
      - {date: 2026-10-10, name: National Day make-up (Sat)}
schedules:
  office-lights:
    calendar: cn-2026
    targets: [b/lights/c1, b/lights/c2]
    week:
      weekdays: ["08:00-18:00"]
      sat: ["09:00-12:00"]
"""


def local_ts(y, m, d, hh, mm=0) -> float:
    return datetime(y, m, d, hh, mm, tzinfo=TZ).timestamp()


def rig(config: str, start: float, extra=()):
    db, clock = make_db([spec("b/lights/c1", "bool"), spec("b/lights/c2", "bool"), *extra], start=start)
    dev = FakeDevice(db, clock)
    put(db, clock, {"b/lights/c1": False, "b/lights/c2": False})
    engine = ControlEngine(section(config), db, clock, "Asia/Shanghai")
    return db, clock, dev, engine


def switches(dev, path="b/lights/c1"):
    """(local datetime, value) of each write to ``path``."""
    return [(datetime.fromtimestamp(t, TZ).strftime("%a %m-%d %H:%M"), v) for p, v, t in dev.writes if p == path]


def advance_to(clock, ts: float, step: float = 60.0) -> None:
    while clock.seconds() < ts:
        clock.advance(min(step, ts - clock.seconds()))


def test_week_program_across_holiday_and_make_up_day():
    # Friday 25 Sep 2026 07:00 local, through Sunday 11 Oct.
    db, clock, dev, engine = rig(CONFIG, local_ts(2026, 9, 25, 7))
    engine.start()
    advance_to(clock, local_ts(2026, 10, 11, 23))
    engine.stop()
    got = switches(dev)
    assert got == [
        ("Fri 09-25 07:00", False),          # the state is asserted once at start-up
        ("Fri 09-25 08:00", True), ("Fri 09-25 18:00", False),
        ("Sat 09-26 09:00", True), ("Sat 09-26 12:00", False),
        # Sunday 27 Sep is a make-up working day: the weekday program.
        ("Sun 09-27 08:00", True), ("Sun 09-27 18:00", False),
        ("Mon 09-28 08:00", True), ("Mon 09-28 18:00", False),
        ("Tue 09-29 08:00", True), ("Tue 09-29 18:00", False),
        ("Wed 09-30 08:00", True), ("Wed 09-30 18:00", False),
        # 1-7 Oct: National Day holiday, nothing switches on (not even on weekdays).
        ("Thu 10-08 08:00", True), ("Thu 10-08 18:00", False),
        # Saturday 10 Oct is a make-up working day: weekday hours, not Saturday's.
        ("Fri 10-09 08:00", True), ("Fri 10-09 18:00", False),
        ("Sat 10-10 08:00", True), ("Sat 10-10 18:00", False),
    ]
    assert switches(dev, "b/lights/c2") == got
    # Every switch went through the command path and was confirmed.
    assert all(r.ok and r.source == "schedule:office-lights" for r in engine.commands.records)


def test_state_tags_name_the_day():
    db, clock, dev, engine = rig(CONFIG, local_ts(2026, 10, 2, 10))
    engine.start()
    assert db.get("_system/control/schedules/office-lights/day").value == "National Day"
    assert db.get("_system/control/schedules/office-lights/occupied").value is False
    engine.stop()


def run_command(engine, path, value, user=SYSTEM):
    out = []
    _async.start(engine.commands.execute(user, path, value, source="hmi")).addCallback(out.append)
    return out[0]


def test_override_expires_back_to_the_program():
    db, clock, dev, engine = rig(CONFIG, local_ts(2026, 9, 28, 19))   # Monday evening, off
    engine.start()
    assert db.get("b/lights/c1").value is False
    record = run_command(engine, "_system/control/schedules/office-lights/override", "on 30m")
    assert record.ok, record.message
    assert db.get("b/lights/c1").value is True
    assert db.get("_system/control/schedules/office-lights/override").value == "on"
    advance_to(clock, local_ts(2026, 9, 28, 19, 29))
    assert db.get("b/lights/c1").value is True
    advance_to(clock, local_ts(2026, 9, 28, 19, 31))
    assert db.get("b/lights/c1").value is False
    assert db.get("_system/control/schedules/office-lights/override").value == "auto"
    bad = run_command(engine, "_system/control/schedules/office-lights/override", "sideways")
    assert bad.status == "refused" and "on <duration>" in bad.message
    engine.stop()


def test_override_off_during_occupied_hours_and_auto():
    db, clock, dev, engine = rig(CONFIG, local_ts(2026, 9, 28, 9))
    engine.start()
    assert db.get("b/lights/c1").value is True
    assert run_command(engine, "_system/control/schedules/office-lights/override", "off 2h").ok
    assert db.get("b/lights/c1").value is False
    assert run_command(engine, "_system/control/schedules/office-lights/override", "auto").ok
    assert db.get("b/lights/c1").value is True
    engine.stop()


DAYLIGHT = CONFIG + """    daylight: {lux: b/lux, on_below: 200, off_above: 400, min_hold: 5m}
"""


def test_daylight_switching_with_hysteresis():
    lux = spec("b/lux", access="r")
    db, clock, dev, engine = rig(DAYLIGHT, local_ts(2026, 9, 28, 9), [lux])
    put(db, clock, {"b/lux": 150.0})
    engine.start()
    assert db.get("b/lights/c1").value is True           # dark enough: on
    put(db, clock, {"b/lux": 300.0})
    advance_to(clock, clock.seconds() + 600)
    assert db.get("b/lights/c1").value is True           # inside the hysteresis band: stays on
    put(db, clock, {"b/lux": 650.0})
    advance_to(clock, clock.seconds() + 120)
    assert db.get("b/lights/c1").value is False          # bright: off
    put(db, clock, {"b/lux": 180.0})
    advance_to(clock, clock.seconds() + 120)
    assert db.get("b/lights/c1").value is False          # held off for min_hold (5 min)
    advance_to(clock, clock.seconds() + 240)
    assert db.get("b/lights/c1").value is True
    # Outside occupied hours the lights are off whatever the lux.
    advance_to(clock, local_ts(2026, 9, 28, 18, 1))
    assert db.get("b/lights/c1").value is False
    engine.stop()


def test_overnight_period_and_shorthands():
    cal = Calendar("c", holidays={date(2026, 10, 1): "National Day"}, workdays={})
    prog = build_program({"daily": ["22:00-06:00"], "holiday": []}, cal)
    assert prog.is_on(datetime(2026, 9, 29, 23, 0, tzinfo=TZ))
    assert prog.is_on(datetime(2026, 9, 30, 5, 59, tzinfo=TZ))
    assert not prog.is_on(datetime(2026, 9, 30, 6, 0, tzinfo=TZ))
    # The night that starts on the holiday does not run; the one before it does until 06:00.
    assert prog.is_on(datetime(2026, 10, 1, 5, 0, tzinfo=TZ))
    assert not prog.is_on(datetime(2026, 10, 1, 23, 0, tzinfo=TZ))
    assert prog.next_change(datetime(2026, 9, 30, 12, 0, tzinfo=TZ)) == datetime(2026, 9, 30, 22, 0, tzinfo=TZ)


def test_make_up_day_uses_workday_periods_when_given():
    cal = Calendar("c", holidays={}, workdays={date(2026, 10, 10): "make-up"})
    prog = build_program({"weekdays": ["08:00-18:00"], "workday": ["09:00-17:00"]}, cal)
    assert not prog.is_on(datetime(2026, 10, 10, 8, 30, tzinfo=TZ))
    assert prog.is_on(datetime(2026, 10, 10, 9, 0, tzinfo=TZ))
    assert cal.describe(date(2026, 10, 10)) == "make-up"


def test_failed_targets_are_retried_with_backoff():
    from tagdb.values import WriteStatus

    db, clock, dev, engine = rig(CONFIG, local_ts(2026, 9, 28, 7, 58))
    engine.start()
    dev.refuse = WriteStatus.DEVICE_EXCEPTION
    advance_to(clock, local_ts(2026, 9, 28, 8, 30))
    failed = [r for r in engine.commands.records if r.status == "failed"]
    # 30 minutes of a refusing device: a handful of attempts (60 s, 120 s, 240 s, 300 s...), not 180.
    assert 4 <= len(failed) <= 20
    assert "failed (refused by the fake device)" in db.get("_system/control/schedules/office-lights/result").value
    dev.refuse = None
    advance_to(clock, local_ts(2026, 9, 28, 8, 36))
    assert db.get("b/lights/c1").value is True and db.get("b/lights/c2").value is True
    engine.stop()
