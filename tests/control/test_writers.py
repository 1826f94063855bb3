"""Site validation: a tag with two control writers is an error unless the arbitration is declared."""

from __future__ import annotations

import re

import pytest

from .helpers import PLC_SITE, check_control

SITE = PLC_SITE + """\
  - {path: z/hours-1, type: float32, device: plc, address: "ir:2"}
  - {path: z/hours-2, type: float32, device: plc, address: "ir:4"}
  - {path: z/pump-2, type: bool, device: plc, address: "co:1", access: rw}
  - {path: z/hand, type: bool, device: plc, address: "di:0"}
"""

LOOP = """\
control:
  loops:
    zone:
      pv: z/temp
      out: z/valve
      sp: 21
      kp: 2
{extra}"""


def load(tmp_path, control: str) -> list[str]:
    return check_control(tmp_path, control, SITE)[1]


def at(tmp_path, line: int) -> str:
    return f"{tmp_path / 'control.yaml'}:{line}"


def test_loop_output_also_written_by_a_rule_names_tag_both_writers_and_lines(tmp_path):
    errors = load(tmp_path, LOOP.format(extra="""\
  rules:
    flush:
      when: "{z/fan}"
      do:
        - {delay: 1s}
        - {write: z/valve, value: 100}
"""))
    assert len(errors) == 1, errors
    e = errors[0]
    assert e.startswith(f"{at(tmp_path, 13)}: control.rules.flush.do[1].write: tag 'z/valve' has two control writers")
    assert f"loop zone ({at(tmp_path, 5)})" in e and f"rule flush ({at(tmp_path, 13)})" in e


def test_schedule_and_rotation_on_one_run_command(tmp_path):
    errors = load(tmp_path, """\
control:
  schedules:
    pumps:
      targets: [z/pump-2]
      week: {daily: ["08:00-18:00"]}
  rotations:
    pumps:
      members:
        - {name: p1, run_hours: z/hours-1, command: z/fan}
        - name: p2
          run_hours: z/hours-2
          command: z/pump-2
      rotate_after_hours: 100
""")
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{at(tmp_path, 12)}: control.rotations.pumps.members[1].command: tag 'z/pump-2'")
    assert f"schedule pumps ({at(tmp_path, 4)})" in errors[0] and f"rotation pumps ({at(tmp_path, 12)})" in errors[0]


def test_each_extra_writer_is_reported(tmp_path):
    errors = load(tmp_path, """\
control:
  schedules:
    a: {targets: [z/fan], week: {daily: ["08:00-18:00"]}}
    b: {targets: [z/fan], week: {daily: ["18:00-20:00"]}}
  rules:
    c: {when: "{z/hand}", do: [{write: z/fan, value: true}]}
""")
    assert len(errors) == 2, errors
    assert all("tag 'z/fan' has two control writers, schedule a" in e for e in errors)
    assert {re.search(r":\d+: (control\.\S+):", e).group(1) for e in errors} == {
        "control.schedules.b.targets[0]", "control.rules.c.do[0].write"}


def test_one_writer_patterns_are_not_conflicts(tmp_path):
    # A rule's do and else on one tag are one writer; a sequence commanding the
    # loop through its mode/out paths arbitrates through the loop; an interlock
    # guarding the loop output is priority (it refuses writes, it never writes).
    errors = load(tmp_path, LOOP.format(extra="""\
  rules:
    start-stop:
      when: "{z/hand}"
      do:
        - {write: z/fan, value: true}
        - {write: _system/control/loops/zone/mode, value: auto}
      else:
        - {write: _system/control/loops/zone/mode, value: manual}
        - {write: _system/control/loops/zone/out, value: 0}
        - {write: z/fan, value: false}
  interlocks:
    airflow:
      tags: [z/valve]
      block: "value > 0 and not {z/fan}"
"""))
    assert errors == []


def test_declared_arbitration_is_accepted(tmp_path):
    errors = load(tmp_path, """\
control:
  rules:
    open: {when: "{z/hand}", do: [{write: z/fan, value: true}]}
    close: {when: "not {z/hand}", for: 3s, do: [{write: z/fan, value: false}]}
  shared_writes:
    z/fan:
      writers: [rule:open, rule:close]
      reason: exclusive conditions
""")
    assert errors == []


def test_loop_may_share_its_output_only_with_a_track_condition(tmp_path):
    rules = """\
  rules:
    flush: {when: "{z/hand}", do: [{write: z/valve, value: 100}]}
  shared_writes:
    z/valve:
      writers: [loop:zone, rule:flush]
      reason: the loop tracks the valve while the flush runs
"""
    errors = load(tmp_path, LOOP.format(extra=rules))
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{at(tmp_path, 12)}: control.shared_writes.z/valve.writers[0]: loop zone writes "
                                "'z/valve' every cycle")
    assert "track condition" in errors[0]
    assert load(tmp_path, LOOP.format(extra="      track: '{z/hand}'\n" + rules)) == []


@pytest.mark.parametrize("writers, message", [
    ("[rule:open, rule:nope]", "control.shared_writes.z/fan.writers[1]: unknown rule 'nope' (known: close, open)"),
    ("[rule:open, schedule:s]", "writers[1]: schedule s does not write 'z/fan' (written by rule:close, rule:open)"),
    ("[rule:open, rule:open]", "writers[1]: rule:open is listed twice"),
    ("[rule:open, alarm:x]", "writers[1]: 'alarm:x' is not valid: kind:name"),
])
def test_shared_writes_entries_are_checked(tmp_path, writers, message):
    errors = load(tmp_path, f"""\
control:
  schedules:
    s: {{targets: [z/pump-2], week: {{daily: ["08:00-18:00"]}}}}
  rules:
    open: {{when: "{{z/hand}}", do: [{{write: z/fan, value: true}}]}}
    close: {{when: "not {{z/hand}}", do: [{{write: z/fan, value: false}}]}}
  shared_writes:
    z/fan:
      writers: {writers}
      reason: exclusive conditions
""")
    assert any(e.startswith(f"{at(tmp_path, 9)}: ") and message in e for e in errors), errors


def test_a_writer_not_listed_in_the_declaration_is_still_a_conflict(tmp_path):
    errors = load(tmp_path, """\
control:
  schedules:
    s: {targets: [z/fan], week: {daily: ["08:00-18:00"]}}
  rules:
    open: {when: "{z/hand}", do: [{write: z/fan, value: true}]}
    close: {when: "not {z/hand}", do: [{write: z/fan, value: false}]}
  shared_writes:
    z/fan: {writers: [rule:open, rule:close], reason: exclusive conditions}
""")
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{at(tmp_path, 3)}: control.schedules.s.targets[0]: tag 'z/fan' is written by "
                                f"schedule s ({at(tmp_path, 3)}) and by rule open ({at(tmp_path, 5)})")
    assert "lists only rule:open, rule:close" in errors[0]
