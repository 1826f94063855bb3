"""Automatic assignment (skill, building, shift, workload, round robin), manual reassignment,
escalation past the response deadline and auto-close, on an injected clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from business.models import ClockRecord, RosterEntry, Staff
from business.service_mgmt.errors import PermissionDenied

from .support import ADMIN, manager, technician


def add_tech(db, world, clock, name="孙工", skills=("elevator",), building=None, on_duty=True):
    def work(s):
        st = Staff(property_id=world["prop"], building_id=building, employee_no=f"E9{len(name)}{name[0]}", name=name,
                   skills=list(skills), active=True)
        s.add(st)
        s.flush()
        s.add(RosterEntry(staff_id=st.id, shift_id=world["shift"], day=clock.now.date()))
        if on_duty:
            s.add(ClockRecord(staff_id=st.id, kind="in", at=datetime(2026, 11, 2, 0, 5, tzinfo=timezone.utc)))
        return st.id
    return db.call(work)


def lift_order(orders, world, title="lift noise", **extra):
    return orders.call(orders.create_tx, ADMIN, {"kind": "repair", "title": title, "asset_id": world["aA"], **extra})[0]


def test_skill_and_building_decide(orders, world):
    hvac_a = orders.call(orders.create_tx, ADMIN, {"kind": "repair", "title": "AHU", "building_id": world["bA"],
                                                   "skills": ["hvac"]})[0]
    assert hvac_a["state"] == "new" and hvac_a["assignee_staff_id"] is None   # hvac tech works in tower B
    hvac_b = orders.call(orders.create_tx, ADMIN, {"kind": "repair", "title": "AHU", "building_id": world["bB"],
                                                   "skills": ["hvac"]})[0]
    assert hvac_b["assignee_staff_id"] == world["sB"]
    lift = lift_order(orders, world)
    assert lift["assignee_staff_id"] == world["sA"] and lift["skills"] == []   # repair needs no skill by default


def test_only_staff_on_duty(orders, world, db, clock):
    db.call(lambda s: s.add(ClockRecord(staff_id=world["sA"], kind="out", at=clock.now)))
    clock.advance(minutes=1)
    o = lift_order(orders, world, skills=["elevator"])
    assert o["state"] == "new"
    clock.advance(hours=9)            # the day shift is over for everyone
    assert orders.call(orders.housekeeping_tx)[0]["assigned"] == 0


def test_workload_then_round_robin(orders, world, db, clock):
    sc = add_tech(db, world, clock)
    a = lift_order(orders, world, "one", skills=["elevator"])
    clock.advance(minutes=1)
    b = lift_order(orders, world, "two", skills=["elevator"])
    assert {a["assignee_staff_id"], b["assignee_staff_id"]} == {world["sA"], sc}   # least loaded
    assert a["assignee_staff_id"] == world["sA"]                                   # equal: lower id first
    for o in (a, b):                                                               # both free again
        orders.call(orders.act_tx, ADMIN, o["id"], "cancel")
    clock.advance(minutes=1)
    c = lift_order(orders, world, "three", skills=["elevator"])
    assert c["assignee_staff_id"] == world["sA"]       # equal load: the longest since last assignment
    clock.advance(minutes=1)
    orders.call(orders.act_tx, ADMIN, c["id"], "cancel")
    d = lift_order(orders, world, "four", skills=["elevator"])
    assert d["assignee_staff_id"] == sc                # now sA was assigned most recently


def test_manual_reassignment_by_manager_only(orders, world, db, clock):
    sc = add_tech(db, world, clock)
    o = lift_order(orders, world)
    with pytest.raises(PermissionDenied):
        orders.call(orders.act_tx, technician(world), o["id"], "assign", staff_id=sc)
    o = orders.call(orders.act_tx, manager(), o["id"], "assign", staff_id=sc, comment="he knows this lift")[0]
    assert o["assignee_staff_id"] == sc
    ev = o["timeline"][-1]
    assert ev["action"] == "assign" and ev["actor"] == "mgr" and ev["data"]["previous"] == world["sA"]
    # the new assignee accepts; the old one may not touch it any more
    with pytest.raises(PermissionDenied):
        orders.call(orders.act_tx, technician(world), o["id"], "accept")


def test_escalation_after_the_response_deadline(orders, world, db, clock):
    sc = add_tech(db, world, clock)
    o = lift_order(orders, world, skills=["elevator"])
    assert o["assignee_staff_id"] == world["sA"]
    clock.advance(hours=1, minutes=59)
    assert orders.call(orders.housekeeping_tx)[0]["escalated"] == 0
    clock.advance(minutes=2)                           # repair: accept within 2 h
    counts, notices = orders.call(orders.housekeeping_tx)
    assert counts["escalated"] == 1
    o = orders.call(orders.get_tx, ADMIN, o["id"])[0]
    assert o["escalated"] == 1 and o["assignee_staff_id"] == sc
    actions = [e["action"] for e in o["timeline"]]
    assert actions[-2:] == ["escalate", "assign"]
    assert any(n["recipient"] == "boss@x.cn" and "ESCALATED" in n["subject"] for n in notices)
    # not again until escalate_repeat has passed
    clock.advance(minutes=10)
    assert orders.call(orders.housekeeping_tx)[0]["escalated"] == 0
    clock.advance(hours=1)
    assert orders.call(orders.housekeeping_tx)[0]["escalated"] == 1


def test_unrated_verified_orders_close_automatically(orders, world, clock):
    o = lift_order(orders, world)
    for action in ("accept", "start", "complete", "verify"):
        orders.call(orders.act_tx, ADMIN, o["id"], action)
    clock.advance(days=2)
    assert orders.call(orders.housekeeping_tx)[0]["closed"] == 0
    clock.advance(days=1, minutes=1)
    assert orders.call(orders.housekeeping_tx)[0]["closed"] == 1
    o = orders.call(orders.get_tx, ADMIN, o["id"])[0]
    assert o["state"] == "closed" and o["timeline"][-1]["actor"] == "system"


def test_past_completion_deadline_is_flagged_once(orders, world, clock):
    o = lift_order(orders, world)
    orders.call(orders.act_tx, ADMIN, o["id"], "accept")
    clock.advance(hours=23)
    assert orders.call(orders.housekeeping_tx)[0]["overdue"] == 0
    clock.advance(hours=2)                               # repair: complete within 1 day
    counts, notices = orders.call(orders.housekeeping_tx)
    assert counts["overdue"] == 1 and any("[OVERDUE]" in n["subject"] for n in notices)
    assert orders.call(orders.housekeeping_tx)[0]["overdue"] == 0
    listed = orders.call(orders.list_tx, ADMIN, {"overdue": "1"})[0]["items"]
    assert [i["id"] for i in listed] == [o["id"]]
