"""The ISA-18.2 state machine, driven through a real tag database with an injected clock."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from alarms.errors import InvalidOperationError, MissingIdentityError, UnknownAlarmError
from alarms.events import AlarmState, AlarmTransition
from alarms.tables import create_tables
from tagdb.values import BAD_COMM_FAILURE

from .conftest import TEMP, Harness, make_site

H = f"{TEMP}:H"
HH = f"{TEMP}:HH"
FAULT = "plant/chiller-1/fault:digital"

SUPPRESS = """
alarms:
  comm_alarms: false
  suppression:
    chiller-1-off:
      when: not running
      inputs: {running: plant/chiller-1/running}
      alarms: ["plant/chiller-1/supply_temp"]
"""


def test_activate_ack_clear_returns_to_normal(harness):
    h = harness()
    h.put(TEMP, 7.0)
    assert h.state(H) == "normal"
    h.put(TEMP, 9.6)
    assert h.state(H) == "unack_active"
    h.engine.acknowledge(H, "alice", "checking the chiller")
    assert h.state(H) == "ack_active"
    h.put(TEMP, 8.0)
    assert h.state(H) == "normal"
    assert h.kinds(H) == [("activate", "unack_active"), ("ack", "ack_active"), ("clear", "normal")]


def test_clear_before_ack_is_rtn_unack_then_ack_normal(harness):
    h = harness()
    h.put(TEMP, 9.6)
    h.put(TEMP, 8.0)
    assert h.state(H) == "rtn_unack"
    h.engine.acknowledge(H, "alice", "was a transient")
    assert h.state(H) == "normal"


def test_latching_alarm_holds_until_reset(harness):
    h = harness()
    h.put("plant/chiller-1/fault", True)
    assert h.state(FAULT) == "unack_active"
    h.engine.acknowledge(FAULT, "bob", "going to the plant room")
    h.put("plant/chiller-1/fault", False)
    assert h.state(FAULT) == "latched"
    h.engine.acknowledge(FAULT, "bob", "reset after inspection")
    assert h.state(FAULT) == "normal"
    assert [k for k, _ in h.kinds(FAULT)] == ["activate", "ack", "clear", "reset"]


def test_latched_unacknowledged_alarm_also_latches(harness):
    h = harness()
    h.put("plant/chiller-1/fault", True)
    h.put("plant/chiller-1/fault", False)
    assert h.state(FAULT) == "latched"
    h.engine.acknowledge(FAULT, "bob", "reset")
    assert h.state(FAULT) == "normal"


def test_shelve_hides_and_expiry_reannunciates_a_still_active_alarm(harness):
    h = harness()
    h.put(TEMP, 9.6)
    h.engine.shelve(H, "carol", "sensor being recalibrated", 3600)
    rec = h.engine.get(H)
    assert rec.state is AlarmState.SHELVED and rec.shelved_by == "carol"
    assert H not in [r.id for r in h.engine.select()]
    h.put(TEMP, 8.0)
    h.put(TEMP, 9.7)          # condition changes while shelved: journaled, not annunciated
    assert h.state(H) == "shelved"
    h.advance(3599)
    assert h.state(H) == "shelved"
    h.advance(1)
    assert h.state(H) == "unack_active"
    assert h.transitions[-1].kind.value == "shelve_expired"


def test_unshelve_of_a_cleared_alarm_returns_to_normal(harness):
    h = harness()
    h.put(TEMP, 9.6)
    h.engine.shelve(H, "carol", "nuisance", 600)
    h.put(TEMP, 7.0)
    h.engine.unshelve(H, "carol", "fixed")
    assert h.state(H) == "normal"
    h.advance(700)  # the cancelled expiry must not fire
    assert [k for k, _ in h.kinds(H)][-1] == "unshelve"


def test_suppression_by_design_enters_and_leaves(harness):
    h = harness(SUPPRESS)
    h.put("plant/chiller-1/running", True)
    h.put(TEMP, 9.6)
    assert h.state(H) == "unack_active"
    h.put("plant/chiller-1/running", False)      # chiller stopped: its temperature alarms are meaningless
    assert h.state(H) == "suppressed" and h.state(HH) == "suppressed"
    h.put(TEMP, 13.0)
    assert h.state(HH) == "suppressed"
    h.put(TEMP, 8.0)
    h.put("plant/chiller-1/running", True)
    assert h.state(H) == "normal" and h.state(HH) == "normal"
    h.put(TEMP, 9.8)
    assert h.state(H) == "unack_active"
    assert [k for k, _ in h.kinds(H)] == ["activate", "suppress", "clear", "unsuppress", "activate"]


def test_leaving_suppression_with_active_condition_annunciates(harness):
    h = harness(SUPPRESS)
    h.put("plant/chiller-1/running", False)
    h.put(TEMP, 9.6)
    assert h.state(H) == "suppressed"
    h.put("plant/chiller-1/running", True)
    assert h.state(H) == "unack_active"


def test_out_of_service_and_back(harness):
    h = harness()
    h.put(TEMP, 9.6)
    h.engine.set_out_of_service(H, True, "dave", "sensor replaced")
    assert h.state(H) == "out_of_service"
    with pytest.raises(InvalidOperationError):
        h.engine.shelve(H, "dave", "no", 60)
    h.put(TEMP, 7.0)
    h.engine.set_out_of_service(H, False, "dave", "sensor back")
    assert h.state(H) == "normal"


def test_actions_need_an_identified_user_and_a_comment(harness):
    h = harness()
    h.put(TEMP, 9.6)
    with pytest.raises(MissingIdentityError):
        h.engine.acknowledge(H, "", "comment")
    with pytest.raises(MissingIdentityError):
        h.engine.acknowledge(H, "alice", "  ")
    with pytest.raises(MissingIdentityError):
        h.engine.shelve(H, "alice", "", 60)
    with pytest.raises(UnknownAlarmError):
        h.engine.acknowledge("no/such:H", "alice", "x")
    with pytest.raises(InvalidOperationError):
        h.engine.acknowledge(f"{TEMP}:L", "alice", "nothing to ack")
    with pytest.raises(InvalidOperationError):
        h.engine.shelve(H, "alice", "too long", 30 * 86400)
    assert h.state(H) == "unack_active"


def test_bad_quality_raises_a_communication_alarm_not_a_process_alarm(harness):
    h = harness()
    h.put(TEMP, 7.0)
    h.put("plant/chiller-1/fault", False)
    h.put("plant/chiller-1/running", True)
    h.put("plant/chiller-1/supply_temp_sp", 7.0)
    h.put(TEMP, 50.0, BAD_COMM_FAILURE)           # garbage value with Bad quality
    assert h.state(H) == "normal" and h.state(HH) == "normal"
    assert h.state("comm:plc-1") == "normal"      # not yet: Bad must last comm_after (10 s)
    h.advance(9.9)
    assert h.state("comm:plc-1") == "normal"
    h.advance(0.2)
    assert h.state("comm:plc-1") == "unack_active"
    assert h.state(H) == "normal"
    h.put(TEMP, 7.5)
    assert h.state("comm:plc-1") == "rtn_unack"


def test_bad_quality_freezes_an_active_process_alarm(harness):
    h = harness()
    h.put(TEMP, 9.6)
    h.put(TEMP, 0.0, BAD_COMM_FAILURE)
    assert h.state(H) == "unack_active"   # not cleared by a value nobody can trust
    assert h.state(f"{TEMP}:L") == "normal"


def test_transitions_reach_the_event_bus_and_the_journal(harness):
    h = harness()
    got: list[AlarmTransition] = []
    h.bus.subscribe(AlarmTransition, got.append)
    h.put(TEMP, 9.6)
    h.engine.acknowledge(H, "alice", "on my way")
    h.advance(0)
    assert [(t.alarm_id, t.kind.value) for t in got] == [(H, "activate"), (H, "ack")]
    rows = h.system.store.query(alarm_id=H)
    assert [r["kind"] for r in rows] == ["ack", "activate"]          # newest first
    ack, act = rows
    assert act["value"] == pytest.approx(9.6) and act["limit"] == 9.0
    assert act["state_before"] == "normal" and act["state_after"] == "unack_active"
    assert ack["user"] == "alice" and ack["comment"] == "on my way"
    assert ack["area"] == "chiller-hall" and ack["priority"] == "high"


def test_states_survive_a_restart(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = create_engine(url)
    create_tables(engine)
    site = make_site(tmp_path / "site")
    h1 = Harness(site, clock, engine).start()
    h1.put(TEMP, 9.6)
    h1.put(TEMP, 12.5)
    h1.engine.acknowledge(H, "alice", "seen")
    h1.engine.shelve(HH, "alice", "known issue", 600)
    h1.put("plant/chiller-1/fault", True)
    h1.system.stop()
    clock.advance(60)

    h2 = Harness(site, clock, create_engine(url)).start()
    assert h2.state(H) == "ack_active"
    assert h2.engine.get(HH).value == pytest.approx(12.5)      # the value keeps its type
    assert h2.state(HH) == "shelved"
    assert h2.state(FAULT) == "unack_active"
    # Hysteresis continues across the restart: 8.8 is inside the deadband, the alarm holds.
    h2.put(TEMP, 8.8)
    assert h2.state(H) == "ack_active"
    h2.put(TEMP, 8.0)
    assert h2.state(H) == "normal"
    # The shelve expiry was rescheduled from the stored expiry time.
    h2.advance(539)
    assert h2.state(HH) == "shelved"
    h2.advance(2)
    assert h2.state(HH) == "normal"
    h2.system.stop()


def test_suppressed_state_survives_a_restart_and_is_released_by_its_input(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'journal.db'}"
    engine = create_engine(url)
    create_tables(engine)
    site = make_site(tmp_path / "site", SUPPRESS)
    h1 = Harness(site, clock, engine).start()
    h1.put("plant/chiller-1/running", False)
    h1.put(TEMP, 9.6)
    assert h1.state(H) == "suppressed"
    h1.system.stop()
    h2 = Harness(site, clock, create_engine(url)).start()
    assert h2.state(H) == "suppressed"
    h2.put(TEMP, 9.6)
    h2.put("plant/chiller-1/running", True)
    assert h2.state(H) == "unack_active"
    h2.system.stop()
