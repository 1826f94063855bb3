"""End to end on the demo: simulated elevator fault → alarm → one work order assigned to the
on-duty elevator technician → completed → not verifiable while the fault persists → fault
cleared in the simulator and healthy for the configured time → verified → resident rating →
the technician's review figures.

The real service tree (tagdb, database, alarms, simulators, collectors, business, api) runs
the bundled demo site on free ports; the test talks to the REST API with treq and injects
the fault through the simulators' fault-injection API. It waits on conditions, never sleeps.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import treq
from sqlalchemy import select
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from business.identity import create_user, make_hasher, new_api_token
from business.models import ClockRecord, MaintenanceRecord, Review, RosterEntry, Shift, Staff
from collectors.sim.demo import load_demo
from collectors.testing import aio_test, wait_until
from collectors.testing import wait_deferred as _wait
from tagdb.server.root import Component, build_root, make_context

pytestmark = pytest.mark.slow

COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("database", "business.database", lambda s: True),
              Component("alarms", "alarms.service", lambda s: True),
              Component("simulators", "collectors.simulators_service", lambda s: True),
              Component("collectors", "collectors.service", lambda s: True),
              Component("business", "business.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))
LIFT = "tower-a/elevator-1"
HEALTHY_FOR = 2.0


def demo_site(tmp_path):
    """The demo with a fast scheduler, a short healthy period, no web views, the API on a free port."""
    site = load_demo()
    sections = dict(site.sections)
    business = dict(sections["business"])
    business["web"] = {**business["web"], "enabled": False}
    service = dict(sections["service"])
    service["tick"] = 0.2
    service["plans"] = []          # plans are tested on their own; keep this run about faults
    service["alarm_rules"] = [dict(r, healthy_for=HEALTHY_FOR) for r in service["alarm_rules"]]
    sections.update(business=business, service=service)
    return dataclasses.replace(site, sections=sections)


class Client:
    def __init__(self, base):
        self.base = base

    async def call(self, method, path, token, body=None):
        headers = {"Content-Type": ["application/json"], "Authorization": [f"Bearer {token}"]}
        data = json.dumps(body).encode() if body is not None else None
        resp = await _wait(treq.request(method, self.base + path, data=data, headers=headers))
        content = await _wait(resp.content())
        return resp.code, (json.loads(content) if content else None)

    async def login(self, username, password):
        resp = await _wait(treq.post(self.base + "/auth/login", json={"username": username, "password": password}))
        body = json.loads(await _wait(resp.content()))
        assert resp.code == 200, body
        return body["token"]


def put_on_duty(db, now):
    """Clock in the first elevator technician for a shift running now; returns (staff id, user token)."""
    hasher = make_hasher(fast=True)

    def work(s):
        techs = [st for st in s.scalars(select(Staff).order_by(Staff.id)) if "elevator" in (st.skills or [])]
        tech = techs[0]
        tz = ZoneInfo("Asia/Shanghai")
        local = now.astimezone(tz)
        start = (local - timedelta(hours=1)).time().replace(second=0, microsecond=0)
        end = (local + timedelta(hours=8)).time().replace(second=0, microsecond=0)
        shift = Shift(property_id=tech.property_id, code="e2e", name="e2e", start=start, end=end, grace_minutes=5)
        s.add(shift)
        s.flush()
        day = (local - timedelta(hours=1)).date()
        s.add(RosterEntry(staff_id=tech.id, shift_id=shift.id, day=day))
        s.add(ClockRecord(staff_id=tech.id, kind="in", at=now - timedelta(minutes=30)))
        user = create_user(s, hasher, username="lift-tech", password="Lift-tech-2026", actor="test", now=now,
                           grants=[("technician", "property:harbour-view")], staff_id=tech.id)
        token = new_api_token(s, user.id, "test", now, None, "test")[0]
        return tech.id, token
    return db.call(work)


@aio_test
async def test_elevator_fault_to_verified_rated_order(tmp_path, monkeypatch):
    monkeypatch.setenv("SPMS_DEMO_SMTP_PORT", "1")     # no mail catcher: notices stay in the outbox
    site = demo_site(tmp_path)
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    await _wait(root.startService())
    hub, db, api = ctx.provides["simulators"], ctx.provides["database"], ctx.provides["business"]
    svc = ctx.provides["service_mgmt"]
    try:
        web = Client(ctx.provides["api_url"])
        tech_id, tech = put_on_duty(db, api.clock())
        await _wait(Deferred.fromCoroutine(api.auth.refresh()))
        manager = await web.login("manager", "manager-demo-2026")
        resident = await web.login("resident", "resident-demo-2026")
        fault = f"{LIFT}/fault_code"
        await wait_until(lambda: ctx.tags.get(fault).quality.is_good and ctx.tags.get(fault).value == 0,
                         timeout=60, what="elevator data")

        # the fault: door fault → FAULT alarm (10 s on-delay) → one work order, assigned
        hub.inject_elevator_fault(LIFT, "door")

        async def alarm_orders():
            code, body = await web.call("GET", f"/workorders?equipment_id={LIFT}&source=alarm", manager)
            assert code == 200, body
            return body["items"]
        found: list = []

        async def poll():
            found[:] = await alarm_orders()
            return bool(found)
        await _until(poll, 60, "work order opened by the alarm")
        assert len(found) == 1
        order = found[0]
        assert order["state"] == "assigned" and order["assignee_staff_id"] == tech_id
        assert order["skills"] == ["elevator"] and order["alarm_ids"] == [f"{fault}:FAULT"]
        oid = order["id"]
        linked = await _wait(Deferred.fromCoroutine(svc.orders_for_alarm(f"{fault}:FAULT")))
        assert [o["id"] for o in linked] == [oid]
        code, by_alarm = await web.call("GET", f"/workorders?alarm_id={fault}:FAULT", manager)
        assert [o["id"] for o in by_alarm["items"]] == [oid]

        # a resident reports the same lift: grouped under the alarm order, not a second job
        code, me = await web.call("GET", "/auth/me", resident)
        unit_id = _unit_of(me)
        code, report = await web.call("POST", "/workorders", resident, {
            "kind": "repair", "title": "A座1号电梯门关不上", "unit_id": unit_id, "equipment_id": LIFT,
            "photos": ["photo://resident/lift-door.jpg"], "preferred_visit": "today 18:00-20:00"})
        assert code == 201, report
        assert report["parent_id"] == oid and report["source"] == "resident" and report["state"] == "new"
        assert len(await alarm_orders()) == 1
        # the resident sees their own report only, not the alarm order
        code, mine = await web.call("GET", "/workorders", resident)
        assert [o["id"] for o in mine["items"]] == [report["id"]]
        code, _ = await web.call("GET", f"/workorders/{oid}", resident)
        assert code == 404

        # the technician works the order; parts and labour recorded
        for action in ("accept", "start"):
            code, body = await web.call("POST", f"/workorders/{oid}/transitions", tech, {"action": action})
            assert code == 200, body
        for line in ({"kind": "part", "description": "door contact", "quantity": "1", "unit_price": "380.00"},
                     {"kind": "labour", "description": "lift technician", "quantity": "1.5", "unit_price": "120.00"}):
            code, body = await web.call("POST", f"/workorders/{oid}/costs", tech, line)
            assert code == 201, body
        code, body = await web.call("POST", f"/workorders/{oid}/transitions", tech,
                                    {"action": "complete", "comment": "door contact replaced"})
        assert code == 200 and body["state"] == "completed", body
        assert body["costs"] == {"parts": "380.00", "labour": "180.00", "total": "560.00"}

        # the fault is still there: verification refused
        code, body = await web.call("POST", f"/workorders/{oid}/transitions", manager, {"action": "verify"})
        assert code == 409 and body["error"]["code"] == "verification_blocked", body
        assert "FAULT" in body["error"]["message"] or "not healthy" in body["error"]["message"]

        # cleared in the simulator → alarm back to normal → healthy values recorded → after 2 s verifiable
        hub.clear_elevator_fault(LIFT)
        detail: dict = {}

        async def healthy():
            code, d = await web.call("GET", f"/workorders/{oid}", manager)
            detail.update(d)
            return d["healthy_since"] is not None
        await _until(healthy, 60, "equipment healthy after the fault was cleared")
        since = datetime.fromisoformat(detail["healthy_since"])
        await wait_until(lambda: api.clock() >= since + timedelta(seconds=HEALTHY_FOR + 0.3), timeout=10,
                         what="the healthy period")
        code, body = await web.call("POST", f"/workorders/{oid}/transitions", manager,
                                    {"action": "verify", "comment": "lift back in service"})
        assert code == 200 and body["state"] == "verified", body
        assert body["downtime_s"] is not None and body["downtime_s"] > 0
        assert [g["state"] for g in body["grouped"]] == ["verified"]

        # the asset's maintenance history was filled
        def history(s):
            return [(r.work_order_ref, str(r.cost), r.staff_id) for r in s.scalars(select(MaintenanceRecord))
                    if r.work_order_ref == body["number"]]
        assert db.call(history) == [(body["number"], "560.00", tech_id)]

        # the resident rates their report: it closes, and the rating counts for the technician
        code, rated = await web.call("POST", f"/workorders/{report['id']}/rating", resident,
                                     {"score": 5, "comment": "修得很快"})
        assert code == 201 and rated["staff_id"] == tech_id, rated
        code, child = await web.call("GET", f"/workorders/{report['id']}", resident)
        assert child["state"] == "closed" and child["rating"]["score"] == 5
        code, figs = await web.call("GET", f"/workorders/figures?staff_id={tech_id}", manager)
        assert code == 200, figs
        fig = figs["items"][0]
        assert fig["staff_id"] == tech_id and fig["average_rating"] == 5.0 and fig["completed"] == 1
        assert fig["completion_sla_pct"] == 100.0 and fig["response_sla_pct"] == 100.0
        code, fed = await web.call("POST", "/workorders/reviews", manager, {"period": "e2e-2026"})
        assert code == 200, fed

        def review(s):
            rv = s.scalar(select(Review).where(Review.staff_id == tech_id, Review.period == "e2e-2026"))
            return rv.criteria["service"]
        assert db.call(review)["average_rating"] == 5.0

        # notices went through the alarms outbox: the technician's assignment, the resident's progress
        outbox = ctx.provides["notify_outbox"]
        sources = [e.message.source for e in outbox.entries(limit=500)]
        assert f"business:workorder:{order['number']}" in sources
        assert f"business:workorder:{report['number']}" in sources
        assert svc.link.errors == 0
    finally:
        await _wait(root.stopService())


def _unit_of(me):
    for _role, scope in me.get("grants") or []:
        if scope.startswith("unit:"):
            return int(scope[5:])
    raise AssertionError(f"resident has no unit grant: {me}")


async def _until(check, timeout, what):
    """Wait for an async condition (polls every 0.2 s), TimeoutError naming it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.2)
