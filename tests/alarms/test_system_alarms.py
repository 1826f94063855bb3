"""Alarms on run-time ``_system/...`` tags: component defaults and site rules by path or glob.

The real component factories (tagdb, historian, alarms, control) are composed
on an injected Clock with the real TagDatabase and journal; nothing sleeps.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from twisted.internet.defer import Deferred

import alarms.service
import control.service
import tagdb.historian.service
import tagdb.service
from alarms.errors import AlarmConfigError
from alarms.validate import validate_site
from tagdb.server.root import make_context
from tagdb.site.errors import SiteConfigError
from tagdb.system_tags import SystemTags
from tagdb.values import BAD_COMM_FAILURE, GOOD, TagValue

from .conftest import TEMP, Harness, make_site, memory_engine

LOOP_ALARM = "_system/control/loops/chw/alarm:BAD_PV"
NEAR_FULL = "_system/historian/buffer/near_full:NEAR_FULL"

CONTROL_YAML = f"""
control:
  loops:
    chw:
      pv: {TEMP}
      out: plant/chiller-1/supply_temp_sp
      sp: 7.0
      kp: 2
      ti: 60s
      out_min: 0
      out_max: 100
"""

HISTORIAN_YAML = """
historian:
  sinks:
    local: {type: embedded}
  buffer: {max_points: 1000}
"""


class Server:
    """Component factories called in the server's order, their services started on the Clock."""

    def __init__(self, tmp_path, clock, site, factories) -> None:
        self.clock = clock
        self.ctx = make_context(site, clock, tmp_path / "data")
        self.services = [s for s in (f(self.ctx) for f in factories) if s is not None]

    def start(self, skip=("historian",)) -> "Server":
        for s in self.services:
            if s.name not in skip:   # the historian's forwarders are not needed: its buffer stays full
                s.startService()
        self.clock.advance(0)
        return self

    def stop(self) -> None:
        for s in reversed(self.services):
            if s.running:
                s.stopService()
            elif s.name == "historian":   # never started: its sinks' worker threads still need stopping
                for sink in s.sinks:
                    Deferred.fromCoroutine(sink.close())
                s.historian.buffer.close()

    @property
    def engine(self):
        return self.ctx.provides["alarms"]

    def put(self, path, value, quality=GOOD) -> None:
        now = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        self.ctx.tags.update([TagValue(path, value, quality, now, now)])
        self.advance(0)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.clock.advance(0)

    def journal(self, alarm_id: str) -> list[tuple[str, str, str | None]]:
        rows = self.ctx.provides["alarm_system"].store.query(alarm_id=alarm_id)
        return [(r["kind"], r["state_after"], r["user"]) for r in reversed(rows)]


@pytest.fixture
def server(tmp_path, clock):
    made = []

    def build(extra_yaml: str, factories, alarms_yaml: str = "") -> Server:
        site = make_site(tmp_path / f"site{len(made)}", alarms_yaml, extra_yaml)
        s = Server(tmp_path / f"run{len(made)}", clock, site, factories)
        made.append(s)
        return s

    yield build
    for s in made:
        s.stop()


def test_a_loop_on_bad_pv_raises_a_journaled_alarm_that_is_acknowledged_and_clears(server):
    srv = server(CONTROL_YAML, [tagdb.service.from_config, alarms.service.from_config,
                                control.service.from_config]).start()
    srv.put(TEMP, 7.5)
    srv.advance(2)
    rec = srv.engine.get(LOOP_ALARM)          # defined by control, no alarm rule in the site
    assert rec.definition.priority == "high" and rec.state.value == "normal"

    srv.put(TEMP, 7.5, BAD_COMM_FAILURE)
    srv.advance(2)
    assert rec.state.value == "unack_active"
    assert rec.definition.message.startswith("Control loop chw: Bad PV")
    srv.engine.acknowledge(LOOP_ALARM, "li.wei", "sensor cable checked")
    assert rec.state.value == "ack_active"

    srv.put(TEMP, 7.4)
    srv.advance(2)
    assert rec.state.value == "normal"
    assert srv.journal(LOOP_ALARM) == [("activate", "unack_active", None), ("ack", "ack_active", "li.wei"),
                                       ("clear", "normal", None)]


def test_without_an_alarm_system_control_runs_and_defines_nothing(server):
    srv = server(CONTROL_YAML, [tagdb.service.from_config, control.service.from_config]).start()
    srv.put(TEMP, 7.5, BAD_COMM_FAILURE)
    srv.advance(2)
    assert "alarms" not in srv.ctx.provides
    assert srv.ctx.tags.get("_system/control/loops/chw/alarm").value is True


def test_the_historian_buffer_at_90_percent_raises_its_alarm(server):
    srv = server(HISTORIAN_YAML, [tagdb.service.from_config, tagdb.historian.service.from_config,
                                  alarms.service.from_config]).start()
    history = srv.ctx.provides["history"]
    # What the historian service registers when it starts (its forwarders would drain the buffer).
    srv.ctx.provides["system_tags"].add_source("historian", history.system_values)
    now = datetime.fromtimestamp(srv.clock.seconds(), timezone.utc)

    def fill(n: int, offset: int) -> None:
        history.accept([TagValue(TEMP, float(offset + i), GOOD, now, now) for i in range(n)])

    fill(850, 0)
    srv.advance(1)                            # the system tags refresh every second
    assert srv.ctx.tags.get("_system/historian/buffer/fill_pct").value < 90
    rec = srv.engine.get(NEAR_FULL)
    assert rec.state.value == "normal" and rec.definition.priority == "high"
    fill(60, 850)
    srv.advance(1)
    assert srv.ctx.tags.get("_system/historian/buffer/fill_pct").value >= 90
    assert rec.state.value == "unack_active"
    assert srv.journal(NEAR_FULL)[0][:2] == ("activate", "unack_active")
    assert srv.ctx.provides["system_alarm_requests"] == []    # taken by the alarm system


def test_a_site_rule_on_a_system_glob_attaches_to_tags_added_after_start(tmp_path, clock):
    site = make_site(tmp_path / "s", """
alarms:
  rules:
    - {tag: "_system/devices/*/connected", type: digital, state: false, name: OFFLINE, priority: medium,
       on_delay: 30s, message: "{tag} offline"}
    - {tag: "_system/pumps/**/fill_pct", type: limit, h: 80, deadband: 5}
""")
    h = Harness(site, clock).start()
    system = SystemTags(h.tags, clock)
    system.report_device("meter-9", connected=True)     # tags created now, after the engine started
    system.publish("pumps/p1", {"fill_pct": 50.0})
    clock.advance(0)
    offline = "_system/devices/meter-9/connected:OFFLINE"
    assert h.state(offline) == "normal"
    system.report_device("meter-9", connected=False, last_error="timeout")
    clock.advance(0)                                     # delivered on the next reactor turn
    h.advance(29)
    assert h.state(offline) == "normal"
    h.advance(1)
    assert h.state(offline) == "unack_active"
    assert h.engine.get(offline).definition.priority == "medium"
    assert h.transitions[-1].message == "_system/devices/meter-9/connected offline"

    high = "_system/pumps/p1/fill_pct:H"
    for value, state in [(81.0, "unack_active"), (77.0, "unack_active"), (74.0, "rtn_unack")]:
        system.publish("pumps/p1", {"fill_pct": value})
        clock.advance(0)
        assert h.state(high) == state, value
    h.system.stop()


def test_a_site_rule_overrides_a_component_default_of_the_same_name(tmp_path, clock):
    site = make_site(tmp_path / "s", """
alarms:
  rules:
    - {tag: "_system/historian/buffer/near_full", type: digital, name: NEAR_FULL, priority: low}
""")
    h = Harness(site, clock)
    h.engine.define_system_alarm("_system/historian/buffer/near_full",
                                 {"type": "digital", "name": "NEAR_FULL", "priority": "high"}, origin="historian")
    h.start()
    SystemTags(h.tags, clock).publish("historian", {"buffer/near_full": True})
    clock.advance(0)
    assert h.engine.get(NEAR_FULL).definition.priority == "low"
    assert h.state(NEAR_FULL) == "unack_active"
    h.system.stop()


def test_a_definition_after_the_tag_exists_applies_to_its_current_value(harness, clock):
    h = harness()
    SystemTags(h.tags, clock).publish("pumps/p2", {"tripped": True})
    clock.advance(0)
    h.engine.define_system_alarm("_system/pumps/p2/tripped", {"type": "digital", "name": "TRIP"})
    clock.advance(0)
    assert h.state("_system/pumps/p2/tripped:TRIP") == "unack_active"


def test_a_system_alarm_state_survives_a_restart(tmp_path, clock):
    db = memory_engine()
    site = make_site(tmp_path / "s")
    rule = {"type": "digital", "name": "TRIP", "priority": "high"}
    path, aid = "_system/pumps/p3/tripped", "_system/pumps/p3/tripped:TRIP"
    first = Harness(site, clock, db)
    first.engine.define_system_alarm(path, rule)
    first.start()
    SystemTags(first.tags, clock).publish("pumps/p3", {"tripped": True})
    clock.advance(0)
    first.engine.acknowledge(aid, "chen.jie", "pump isolated")
    first.system.stop()
    clock.advance(0)

    second = Harness(site, clock, db)
    second.engine.define_system_alarm(path, rule)
    second.start()
    SystemTags(second.tags, clock).publish("pumps/p3", {"tripped": True})
    clock.advance(0)
    assert second.state(aid) == "ack_active"          # not annunciated again after the restart
    assert second.kinds(aid) == []
    second.system.stop()


@pytest.mark.parametrize("rule, words", [
    ({"type": "digital", "priority": "urgent"}, "unknown priority 'urgent'"),
    ({"type": "deviation", "setpoint": 3, "high": 1}, "cannot watch a _system/ tag"),
    ({"type": "limit"}, "at least one of hh"),
    ({"type": "digital", "colour": "red"}, "unknown key"),
])
def test_a_malformed_component_rule_is_refused_naming_the_component(harness, rule, words):
    h = harness()
    with pytest.raises(AlarmConfigError) as exc:
        h.engine.define_system_alarm("_system/pumps/p1/tripped", rule, origin="pumps")
    assert words in str(exc.value) and "pumps.alarms[_system/pumps/p1/tripped]" in str(exc.value)
    with pytest.raises(AlarmConfigError, match="is not a _system/ path"):
        h.engine.define_system_alarm("plant/chiller-1/running", {"type": "digital"}, origin="pumps")


def test_site_rules_on_system_tags_are_accepted_but_their_syntax_is_checked(tmp_path):
    site = make_site(tmp_path / "ok", """
alarms:
  rules:
    - {tag: "_system/control/loops/*/alarm", type: digital, name: LOOP}
""")
    assert validate_site(site) == []
    with pytest.raises(SiteConfigError) as exc:
        make_site(tmp_path / "bad", """
alarms:
  rules:
    - {tag: "_system/x**/alarm", type: digital}
    - {tag: "_system/historian/buffer/fill_pct", type: deviation, setpoint: 90, high: 1}
    - {tag: "_system/historian/buffer/fill_pct", type: expression, expression: "value > a", inputs: {a: plant/x}}
    - {tag: "_system/devices/*/connected", type: digital, priority: urgent, suppress: [ghost]}
""")
    text = str(exc.value)
    for words in ["alarms.rules[0].tag: '**' must be a whole path segment",
                  "alarms.rules[1].type: a deviation rule cannot watch a _system/ tag",
                  "alarms.rules[2].inputs: an expression on a _system/ tag reads only its own value",
                  "alarms.rules[3].priority: unknown priority 'urgent'",
                  "alarms.rules[3].suppress: unknown suppression group 'ghost'"]:
        assert words in text, words
    assert "matches no tag" not in text
    by_field = {e.field: e.loc for e in exc.value.errors}
    assert by_field["alarms.rules[0].tag"].file.endswith("alarms.yaml") and by_field["alarms.rules[0].tag"].line == 4


def test_spms_check_of_the_demo_passes(capsys):
    from tagdb.cli.main import main

    demo = Path(__file__).resolve().parents[2] / "examples" / "demo"
    assert main(["check", str(demo)]) == 0, capsys.readouterr()
