"""Preventive maintenance: a usage plan fires when the simulated elevator's run hours cross the
threshold (simulator model and tag database on an injected clock); calendar plans by interval
and fixed dates, reminders ahead of time, overdue flags and the compliance report."""

from __future__ import annotations

import random
from datetime import timedelta
from types import SimpleNamespace

from twisted.internet.task import Clock, LoopingCall

from business.service_mgmt import pm
from business.service_mgmt.schema import defaults
from business.service_mgmt.service import ServiceMgmt
from collectors.sim.demo import load_demo
from collectors.sim.elevators import Car
from tagdb.database import TagDatabase
from tagdb.values import GOOD, TagValue

from .support import ADMIN

LIFT = "tower-a/elevator-1"


def plans(orders, *cfgs):
    orders.section = defaults({"plans": list(cfgs)})
    orders.call(lambda s: (pm.sync_plans(s, orders.section["plans"], 1), []))


def one_pass(orders, svc=None):
    targets = orders.call(lambda s: (pm.usage_targets(s), []))[0]
    readings = svc.readings(targets) if svc is not None else {}
    return orders.call(lambda s: pm.run_plans(orders, s, orders.clock(), readings))


def test_usage_plan_fires_when_simulated_run_hours_cross_the_threshold(orders, world, clock):
    site = load_demo(0)
    reactor = Clock()
    reactor.advance(clock.now.timestamp())
    tags = TagDatabase(site.tags, reactor)
    car = Car("tower-a-car1", -2, 30, random.Random(20260301))

    def step():                      # the simulator's physics, one simulated second per tick
        if not car.targets and not car.state.running:
            car.request(30 if car.state.current_floor < 10 else -2)
        car.step(1.0, 8.0)
        clock.advance(seconds=1)
        tags.update([TagValue(f"{LIFT}/run_hours", car.state.run_hours, GOOD, clock.now, clock.now)])
        tags.flush()
    physics = LoopingCall(step)
    physics.clock = reactor
    physics.start(1.0)
    svc = ServiceMgmt(SimpleNamespace(tags=tags, provides={}, reactor=reactor, events=None, site=None),
                      SimpleNamespace(db=orders.db, clock=clock), orders.section)
    svc.orders = orders
    start = car.state.run_hours
    threshold, lead = 0.05, 0.01                # 3 minutes of travel, ordered 36 s of travel early
    plans(orders, {"code": "lift-usage", "name": "Lift usage service", "asset": LIFT, "trigger": "usage",
                   "tag": "run_hours", "threshold": threshold, "lead": lead, "skills": ["elevator"]})
    one_pass(orders, svc)                       # first reading fixes the next mark
    state = orders.call(lambda s: (s.scalar(pm.select(pm.PmPlan)).state, []))[0][str(world["aA"])]
    mark = state["next_at"]
    assert start < mark <= start + threshold + 1e-9
    made = []
    while car.state.run_hours < mark + threshold * 0.5:
        reactor.advance(1.0)
        out = one_pass(orders, svc)[0]["generated"]
        made += [(car.state.run_hours, n) for n in out]
    physics.stop()
    assert len(made) == 1                       # one order for the mark, not one per pass
    fired_at = made[0][0]
    assert mark - lead <= fired_at < mark       # the lead warning: before the threshold is crossed
    listing = orders.call(orders.list_tx, ADMIN, {"kind": "preventive"})[0]["items"]
    assert [o["number"] for o in listing] == [made[0][1]]
    o = listing[0]
    assert o["source"] == "plan" and o["asset_id"] == world["aA"] and o["assignee_staff_id"] == world["sA"]
    state = orders.call(lambda s: (s.scalar(pm.select(pm.PmPlan)).state, []))[0][str(world["aA"])]
    assert state["next_at"] == mark + threshold and state["ordered_for"] == mark


def test_calendar_plans_generate_ahead_flag_overdue_and_report(orders, world, clock):
    plans(orders,
          {"code": "lift-monthly", "name": "Lift monthly", "category": "elevator", "trigger": "calendar",
           "every": 1, "unit": "months", "lead_days": 5, "skills": ["elevator"]},
          {"code": "lift-fixed", "name": "Lift annual check", "asset": LIFT, "trigger": "calendar",
           "dates": ["2026-11-20"], "lead_days": 3})
    assert one_pass(orders)[0]["generated"] == []          # 2026-11-02: next due 12-02 and 11-20
    clock.advance(days=15)                                 # 11-17: the fixed date is 3 days away
    assert len(one_pass(orders)[0]["generated"]) == 1
    clock.advance(days=10)                                 # 11-27: monthly due 12-02 for both lifts
    out, notices = one_pass(orders)
    made = out["generated"]
    assert len(made) == 2
    assert sum(1 for n in notices if n["recipient"] == "boss@x.cn" and "nobody on duty" in n["subject"]) == 2
    assert one_pass(orders)[0]["generated"] == []          # once per due date
    items = orders.call(orders.list_tx, ADMIN, {"kind": "preventive"})[0]["items"]
    monthly = [o for o in items if o["number"] in made]
    assert all(o["completion_due"].startswith("2026-12-02") for o in monthly)
    # one done on time, the other left overdue
    done = next(o for o in monthly if o["asset_id"] == world["aA"])
    assert done["state"] == "new"                          # nobody on duty on 11-27: waits, managers told
    orders.call(orders.act_tx, ADMIN, done["id"], "assign", staff_id=world["sA"])
    for action in ("accept", "start", "complete"):
        orders.call(orders.act_tx, ADMIN, done["id"], action)
    clock.advance(days=6)                                  # 12-03
    cal = orders.call(lambda s: (pm.calendar_view(s, clock.now - timedelta(days=40), clock.now, clock.now), []))[0]
    flags = {r["number"]: r["overdue"] for r in cal["orders"]}
    assert flags[done["number"]] is False and sum(flags.values()) == 2   # the other monthly + the fixed one
    report = orders.call(lambda s: (pm.compliance(s, clock.now - timedelta(days=60), clock.now, clock.now), []))[0]
    by = {(r["building"], r["category"]): r for r in report}
    a = by[("tower-a", "elevator")]
    assert a["planned"] == 2 and a["on_time"] == 1 and a["overdue"] == 1 and a["compliance_pct"] == 50.0
    b = by[("tower-b", "elevator")]
    assert b["planned"] == 1 and b["overdue"] == 1 and b["compliance_pct"] == 0.0
    state = {p["code"]: p["state"] for p in cal["plans"]}
    assert state["lift-monthly"][str(world["aA"])]["next_due"] == "2027-01-02"


def test_assignee_is_reminded_once_a_day_before_the_due_date(orders, world, clock):
    plans(orders, {"code": "lift-fixed", "name": "Lift annual check", "asset": LIFT, "trigger": "calendar",
                   "dates": ["2026-11-09"], "lead_days": 7})
    made = one_pass(orders)[0]["generated"]                # 11-02: seven days ahead, sA on duty
    o = orders.call(orders.get_tx, ADMIN, made[0])[0]
    assert o["assignee_staff_id"] == world["sA"] and o["completion_due"].startswith("2026-11-09T23:59")
    one_pass(orders)
    assert "remind" not in [e["action"] for e in orders.call(orders.get_tx, ADMIN, o["id"])[0]["timeline"]]
    clock.advance(days=7, hours=1)                         # 11-09 02:00 UTC: due within a day
    one_pass(orders)
    one_pass(orders)
    actions = [e["action"] for e in orders.call(orders.get_tx, ADMIN, o["id"])[0]["timeline"]]
    assert actions.count("remind") == 1
