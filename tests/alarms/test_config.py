"""Alarm configuration: rule schema errors and whole-site cross references, with file and line."""

from __future__ import annotations

import pytest

from alarms.schema import SECTION, TAG_RULE
from tagdb.site.errors import SiteConfigError
from tagdb.site.located import load_yaml

from .conftest import make_site


def check(schema, text):
    data, errs = load_yaml(text, "rules.yaml")
    assert not errs
    return schema.check(data, "alarms", data.loc)[1]


@pytest.mark.parametrize("text, field, words", [
    ("{type: limit}", "alarms", "at least one of hh"),
    ("{type: limit, h: 8, hh: 7}", "alarms.h", "must be below hh"),
    ("{type: limit, h: 8, state: true}", "alarms.state", "does not apply to a limit rule"),
    ("{type: deviation, high: 2}", "alarms.setpoint", "is required"),
    ("{type: quality}", "alarms.after", "is required"),
    ("{type: expression, expression: 'a > b', inputs: {a: x/y}}", "alarms.expression", "unknown name(s) b"),
    ("{type: expression, expression: 'a.b > 1', inputs: {a: x/y}}", "alarms.expression", "not allowed"),
    ("{type: limit, h: 8, on_delay: soon}", "alarms.on_delay", "expected a duration"),
    ("{type: sometimes}", "alarms.type", "is not one of"),
    ("{type: limit, h: 8, colour: red}", "alarms.colour", "unknown key"),
])
def test_rule_schema_errors(text, field, words):
    errors = check(TAG_RULE, text)
    assert any(e.field == field and words in e.message for e in errors), errors
    assert all(e.loc.file == "rules.yaml" and e.loc.line == 1 for e in errors)


def test_section_schema_errors():
    errors = check(SECTION, """
channels:
  mail: {type: email}
  hook: {type: webhook}
pipelines:
  p: {steps: []}
rules:
  - {type: limit, h: 3}
""")
    fields = {e.field for e in errors}
    assert {"alarms.channels.mail.port", "alarms.channels.hook.url", "alarms.pipelines.p.steps",
            "alarms.rules[0].tag"} <= fields


def test_site_cross_references_name_file_line_and_field(tmp_path):
    with pytest.raises(SiteConfigError) as exc:
        make_site(tmp_path, """
alarms:
  rules:
    - {type: limit, tag: plant/nowhere/temp, h: 3}
    - {type: limit, tag: plant/chiller-1/supply_temp, h: 30, priority: urgent, name: X}
    - {type: deviation, tag: plant/chiller-1/supply_temp, setpoint: no_such_sp, high: 2}
    - {type: limit, tag: plant/chiller-1/fault, h: 1, name: B}
    - {type: limit, tag: plant/chiller-1/supply_temp, h: 30, name: Y, suppress: [ghost], message: "{colour}"}
  contacts:
    tech: {name: Tech, phone: "+86 138"}
  rosters:
    r: {shifts: [{on_call: [tech, nobody]}], timezone: Mars/Olympus}
  channels:
    mail: {type: email, port: 25}
  pipelines:
    p: {steps: [{roster: r, channels: [mail, pager]}, {roster: r2, channels: [mail], after: 5m}]}
""")
    text = str(exc.value)
    for words in ["alarms.rules[0].tag: 'plant/nowhere/temp' matches no tag",
                  "alarms.rules[1].priority: unknown priority 'urgent'",
                  "alarms.rules[2].setpoint: unknown setpoint tag 'no_such_sp'",
                  "alarms.rules[3].type: a limit rule on the bool tag",
                  "alarms.rules[4].suppress: unknown suppression group 'ghost'",
                  "alarms.rules[4].message: unknown placeholder(s) colour",
                  "alarms.rosters.r.shifts[0].on_call: unknown contact 'nobody'",
                  "alarms.rosters.r.timezone: unknown timezone 'Mars/Olympus'",
                  "alarms.pipelines.p.steps[0].channels: unknown channel 'pager'",
                  "alarms.pipelines.p.steps[1].roster: unknown roster 'r2'",
                  "contact 'tech' of roster 'r' has no email for channel 'mail'"]:
        assert words in text, words
    by_field = {e.field: e.loc for e in exc.value.errors}
    # lines of alarms.yaml: 1 blank, 2 alarms:, 3 rules:, 4.. the rules
    assert by_field["alarms.rules[0].tag"].file.endswith("alarms.yaml")
    assert by_field["alarms.rules[0].tag"].line == 4
    assert by_field["alarms.rules[1].priority"].line == 5
    assert by_field["alarms.rules[4].suppress"].line == 8
    assert by_field["alarms.rosters.r.timezone"].line == 12
    assert by_field["alarms.pipelines.p.steps[1].roster"].line == 16


def test_per_tag_rule_errors_point_at_the_tag_line(tmp_path):
    with pytest.raises(SiteConfigError) as exc:
        make_site(tmp_path, extra_yaml="""
tags:
  - path: plant/x/temp
    device: plc-1
    address: "hr:40"
    type: float32
    alarms:
      - {type: limit, h: 8, hh: 7}
""")
    err = exc.value.errors[0]
    assert err.loc.file.endswith("extra.yaml") and err.loc.line == 8 and "must be below hh" in err.message


def test_a_valid_site_compiles(tmp_path):
    site = make_site(tmp_path)
    from alarms.rules import compile_site

    rs = compile_site(site)
    assert {"plant/chiller-1/supply_temp:HH", "plant/chiller-1/supply_temp:H", "plant/chiller-1/supply_temp:L",
            "plant/chiller-1/fault:digital", "comm:plc-1"} == set(rs.defs)
    assert rs.defs["plant/chiller-1/supply_temp:H"].area == "chiller-hall"
    assert rs.defs["plant/chiller-1/supply_temp:H"].building == "plant"


def test_tag_rules_without_an_alarms_section_are_still_cross_checked(tmp_path):
    from twisted.internet.task import Clock

    import alarms.service
    from alarms.errors import AlarmConfigError
    from tagdb.server.context import ServerContext

    site = make_site(tmp_path / "s", extra_yaml="""
tags:
  - path: plant/x/temp
    device: plc-1
    address: "hr:40"
    type: float32
    alarms:
      - {type: deviation, setpoint: plant/x/missing_sp, high: 2}
""")
    assert site.section("alarms") is None
    with pytest.raises(AlarmConfigError) as exc:
        alarms.service.from_config(ServerContext(site=site, reactor=Clock(), data_dir=tmp_path))
    assert "unknown setpoint tag 'plant/x/missing_sp'" in str(exc.value)
    assert "extra.yaml" in str(exc.value)


def test_no_communication_alarm_for_a_disabled_device(tmp_path):
    from alarms.rules import compile_site

    site = make_site(tmp_path / "s", extra_yaml="""
devices:
  spare-plc:
    protocol: modbus
    endpoint: tcp://127.0.0.1:15099
    enabled: false
tags:
  - {path: plant/spare/temp, device: spare-plc, address: "hr:0", type: float32, alarms: [{type: limit, h: 5}]}
""")
    defs = compile_site(site).defs
    assert "plant/spare/temp:H" in defs and "comm:spare-plc" not in defs and "comm:plc-1" in defs
