"""The control: section: the demo validates; mistakes are reported with file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from twisted.internet.task import Clock

from control.engine import ControlEngine
from tagdb.database import TagDatabase
from tagdb.site.loader import check_site

from .helpers import check_control

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"


def test_demo_control_section_is_valid_and_builds():
    site, errors = check_site(DEMO)
    assert errors == []
    section = site.section("control")
    assert len(section["loops"]) == 4 and len(section["rules"]) >= 10 and "chillers" in section["rotations"]
    engine = ControlEngine(section, TagDatabase(site.tags, Clock()), Clock(), site.timezone)
    assert set(engine.loops) >= {"mall-ahu-1-sat", "tower-a-ahu-1-sat"}
    assert engine.schedules.specs["mall-lights"].program.calendar.day_type(
        __import__("datetime").date(2026, 10, 10)) == "workday"


@pytest.mark.parametrize("control, line, message", [
    ("control:\n  loops:\n    a:\n      pv: z/temp\n      out: z/valve\n      kp: 1\n",
     4, "control.loops.a: needs a setpoint"),
    ("control:\n  loops:\n    a:\n      pv: z/nope\n      out: z/valve\n      sp: 1\n      kp: 1\n",
     4, "control.loops.a.pv: unknown tag 'z/nope'"),
    ("control:\n  loops:\n    a:\n      pv: z/temp\n      out: z/temp\n      sp: 1\n      kp: 1\n",
     5, "control.loops.a.out: tag 'z/temp' is read-only"),
    ("control:\n  loops:\n    a:\n      pv: z/temp\n      out: z/valve\n      sp: 1\n      kp: 1\n      action: sideways\n",
     8, "control.loops.a.action: 'sideways' is not one of direct, reverse"),
    ("control:\n  loops:\n    a:\n      pv: z/temp\n      out: z/valve\n      sp: 1\n      kp: 1\n      bad_pv: safe\n",
     4, "control.loops.a.safe_output: is required when bad_pv is safe"),
    ("control:\n  loops:\n    a: {pv: z/temp, sp_loop: b, kp: 1}\n    b: {pv: z/temp, out: z/valve, sp_loop: a, kp: 1}\n",
     3, "cascade cycle"),
    ("control:\n  rules:\n    r:\n      when: \"{z/fan} and __import__('os')\"\n      do: []\n",
     4, "control.rules.r.when:"),
    ("control:\n  rules:\n    r:\n      when: \"z/fan\"\n      do: []\n",
     4, "unknown name"),
    ("control:\n  rules:\n    r:\n      when: \"{z/fan}\"\n      do:\n        - {write: z/temp, value: 1}\n",
     5, "control.rules.r.do[0].write: tag 'z/temp' is read-only"),
    ("control:\n  rules:\n    r:\n      when: \"{z/fan}\"\n      do:\n        - {jump: 3}\n",
     6, "a step is {write, value|expr}, {delay} or {wait, timeout}"),
    ("control:\n  calendars:\n    c:\n      holidays: ['2026-13-01']\n",
     4, "is not a date"),
    ("control:\n  schedules:\n    s:\n      calendar: nope\n      targets: [z/fan]\n      week: {daily: ['08:00-08:00']}\n",
     6, "is empty"),
    ("control:\n  schedules:\n    s:\n      calendar: nope\n      targets: [z/fan]\n      week: {daily: ['08:00-18:00']}\n",
     4, "control.schedules.s.calendar: unknown calendar 'nope'"),
    ("control:\n  interlocks:\n    i: {tags: [z/*], block: 'value and {z/zz}'}\n",
     3, "control.interlocks.i.block: unknown tag 'z/zz'"),
    ("control:\n  rules:\n    r:\n      when: \"{_system/control/inputs/ghost}\"\n      do: []\n",
     4, "unknown control input 'ghost'"),
    ("control:\n  inputs:\n    x: {type: int, initial: 1.5}\n",
     3, "control.inputs.x.initial: 1.5 is not a int"),
])
def test_config_errors_name_file_line_and_field(tmp_path, control, line, message):
    site, errors = check_control(tmp_path, control)
    assert any(e.startswith(f"{tmp_path / 'control.yaml'}:{line}:") and message in e for e in errors), errors
