"""The alarm summary and banner against the real alarm engine of the demo site (no browser)."""

from __future__ import annotations

import pytest

from hmi.alarms_view import AlarmSource, AlarmSummary, banner_html, counts_html
from tagdb.auth import Principal
from tagdb.values import GOOD, TagValue

LIFT = "tower-a/elevator-1/fault_code"
OPERATOR = Principal("op", frozenset({"operator"}), frozenset({"hmi.view", "hmi.command", "alarms.ack",
                                                                 "alarms.shelve"}))
VIEWER = Principal("tech", frozenset({"viewer"}), frozenset({"hmi.view"}))


@pytest.fixture
def world(alarm_world):
    """The demo's alarm engine with the lift entrapment and an emergency call active."""
    w = alarm_world
    w.db.update([TagValue(LIFT, 3, GOOD, w.t0, w.t0),
                 TagValue("tower-b/elevator-1/emergency_call", True, GOOD, w.t0, w.t0)])
    w.clock.advance(0)
    w.clock.advance(1)
    return w.system, w.clock


def test_banner_and_counts_put_the_critical_alarms_first(world, site):
    system, _ = world
    src = AlarmSource(system.engine, site)
    html = banner_html(src, 3)
    assert f'data-alarm="{LIFT}:ENTRAPMENT"' in html and "CRITICAL" in html
    assert 'data-count="critical">2<' in counts_html(src)
    assert 'data-count="critical">1<' in counts_html(src, "tower-a")


def test_summary_filters_and_acknowledges_with_the_user_and_comment(world, site):
    system, _ = world
    summary = AlarmSummary(AlarmSource(system.engine, site), OPERATOR, lambda: None)
    ids = list(summary.grid.value["id"])
    assert f"{LIFT}:ENTRAPMENT" in ids and any(i.startswith("tower-b/elevator-1/emergency_call:") for i in ids)
    assert list(summary.grid.value["priority"])[:2] == ["critical", "critical"]
    summary.building.value = "tower-a"
    assert set(summary.grid.value["building"]) == {"tower-a"}
    summary.grid.selection = [list(summary.grid.value["id"]).index(f"{LIFT}:ENTRAPMENT")]
    summary._act("ack")
    assert "comment is required" in summary.result.object
    assert not system.engine.get(f"{LIFT}:ENTRAPMENT").acked
    summary.comment.value = "lift technician on the way"
    summary.grid.selection = [list(summary.grid.value["id"]).index(f"{LIFT}:ENTRAPMENT")]
    summary._act("ack")
    assert "1 acknowledged by op" in summary.result.object
    rec = system.engine.get(f"{LIFT}:ENTRAPMENT")
    assert rec.acked
    summary.building.value = "tower-b"
    summary.grid.selection = [0]
    summary.comment.value = "button stuck, known fault"
    summary.shelve_for.value = "1 h"
    summary._act("shelve")
    call = next(i for i in system.engine.records if i.startswith("tower-b/elevator-1/emergency_call:"))
    assert system.engine.get(call).shelved_by == "op"
    assert call not in list(summary.grid.value["id"])      # shelved alarms leave the annunciated list


CALL_PREFIX = "tower-b/elevator-1/emergency_call:"
ACK_ONLY = Principal("desk", frozenset({"operator"}), frozenset({"hmi.view", "alarms.ack"}))


def _call(system) -> str:
    return next(i for i in system.engine.records if i.startswith(CALL_PREFIX))


def _select(summary, *alarm_ids) -> None:
    ids = list(summary.grid.value["id"])
    summary.grid.selection = [ids.index(a) for a in alarm_ids]


def _journal(system, clock, alarm_id, kind):
    clock.advance(0)   # the journal writes what one reactor turn queued at the end of that turn
    return system.store.query(alarm_id=alarm_id, kind=kind)


def test_shelved_filter_lists_shelved_alarms_with_who_and_until(world, site):
    system, _ = world
    summary = AlarmSummary(AlarmSource(system.engine, site), OPERATOR, lambda: None)
    assert "shelved by" in summary.grid.hidden_columns          # calm grid while nothing shown can be shelved
    call = _call(system)
    _select(summary, call)
    summary.comment.value = "button stuck, known fault"
    summary.shelve_for.value = "1 h"
    summary._act("shelve")
    summary.state.value = "shelved"
    grid = summary.grid.value
    assert list(grid["id"]) == [call]
    row = grid.iloc[0]
    assert (row["state"], row["shelved by"], row["shelve reason"]) == ("shelved", "op", "button stuck, known fault")
    assert row["shelved until"] == "2026-03-02 09:00:01"   # shelved at T0 + 1 s for one hour (UTC)
    assert not {"shelved by", "shelved until"} & set(summary.grid.hidden_columns)


def test_unshelve_needs_a_comment_skips_unshelved_alarms_and_is_journaled(world, site):
    system, clock = world
    call, lift = _call(system), f"{LIFT}:ENTRAPMENT"
    system.engine.shelve(call, "op", "button stuck", 3600)
    summary = AlarmSummary(AlarmSource(system.engine, site), OPERATOR, lambda: None)
    assert not summary.unshelve.disabled
    summary.state.value = "all"
    _select(summary, call, lift)
    summary._act("unshelve")
    assert "comment is required" in summary.result.object
    assert system.engine.get(call).shelved and _journal(system, clock, call, "unshelve") == []
    summary.comment.value = "button repaired"
    _select(summary, call, lift)
    summary._act("unshelve")
    assert "1 unshelved by op" in summary.result.object
    assert summary.grid.selection == []                                # nothing left to repeat the action on
    assert 'data-skipped="1"' in summary.result.object and lift in summary.result.object
    assert not system.engine.get(call).shelved
    assert system.engine.get(call).state.value == "unack_active"       # still active: annunciates again
    assert system.engine.get(lift).state.value == "unack_active"       # the skipped alarm is untouched
    row = dict(summary.grid.value.set_index("id").loc[call])
    assert (row["state"], row["shelved by"], row["shelved until"]) == ("unack_active", "", "")
    rows = _journal(system, clock, call, "unshelve")
    assert [(r["user"], r["comment"], r["state_before"], r["state_after"]) for r in rows] == [
        ("op", "button repaired", "shelved", "unack_active")]
    assert _journal(system, clock, lift, "unshelve") == []


@pytest.mark.parametrize("principal, enabled, refusal", [
    (VIEWER, set(), "tech may not unshelve"),
    (ACK_ONLY, {"ack"}, "may not unshelve alarms (permission alarms.shelve)"),
], ids=["viewer", "acknowledge-only"])
def test_unshelving_needs_the_shelve_permission(world, site, principal, enabled, refusal):
    system, clock = world
    call = _call(system)
    system.engine.shelve(call, "op", "button stuck", 3600)
    summary = AlarmSummary(AlarmSource(system.engine, site), principal, lambda: None)
    assert {b for b in ("ack", "shelve", "unshelve") if not getattr(summary, b).disabled} == enabled
    summary.state.value = "shelved"
    _select(summary, call)
    summary.comment.value = "let me see it"
    summary._act("unshelve")     # what a forged click would reach: the server refuses too
    assert refusal in summary.result.object
    record = system.engine.get(call)
    assert record.shelved and record.shelved_by == "op"
    assert _journal(system, clock, call, "unshelve") == []
