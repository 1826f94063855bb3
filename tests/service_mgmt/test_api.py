"""The REST API of service management on the real server (SQLite and PostgreSQL): scoping
(a resident sees only their own orders and their building's activities), field actions by the
assignee only, typed errors, and the OpenAPI entries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest_twisted
import treq

from .support import start_api


async def call(base, method, path, token, body=None):
    headers = {"Content-Type": ["application/json"], "Authorization": [f"Bearer {token}"]}
    resp = await treq.request(method, base + path, data=json.dumps(body).encode() if body is not None else None,
                              headers=headers)
    content = await resp.content()
    return resp.code, (json.loads(content) if content else None)


@pytest_twisted.ensureDeferred
async def test_scoping_actions_and_errors(tmp_path, db_url):
    root, base, w, token = await start_api(tmp_path, db_url)
    try:
        await root.context.provides["business"].auth.refresh()
        mgr = token("mgr", [("manager", "property:demo")])
        mgr_b = token("mgr-b", [("manager", "building:tower-b")])
        tech = token("tech", [("technician", "property:demo")], staff_id=w["sA"])
        res_a = token("res-a", [("owner", f"unit:{w['uA']}")], person_id=w["pA"])
        res_a2 = token("res-a2", [("owner", f"unit:{w['uA2']}")], person_id=w["pA2"])
        res_b = token("res-b", [("owner", f"unit:{w['uB']}")], person_id=w["pB"])
        await root.context.provides["business"].auth.refresh()

        code, o = await call(base, "POST", "/workorders", res_a, {
            "kind": "repair", "title": "厨房漏水", "unit_id": w["uA"], "photos": ["photo://leak.jpg"],
            "preferred_visit": "2026-11-03 09:00-12:00"})
        assert code == 201, o
        assert o["source"] == "resident" and o["reporter_person_id"] == w["pA"] and o["building_id"] == w["bA"]
        code, body = await call(base, "POST", "/workorders", res_a, {"kind": "repair", "title": "x", "unit_id": w["uB"]})
        assert code == 403, body
        code, body = await call(base, "POST", "/workorders", res_a, {"kind": "teleport", "title": ""})
        assert code == 422 and {"kind", "title"} <= set(body["error"]["fields"]), body

        # who sees it
        for tok, visible in ((res_a, True), (res_a2, False), (res_b, False), (mgr, True), (mgr_b, False)):
            code, listing = await call(base, "GET", "/workorders", tok)
            assert code == 200 and (o["id"] in [i["id"] for i in listing["items"]]) is visible
            code, _ = await call(base, "GET", f"/workorders/{o['id']}", tok)
            assert code == (200 if visible else 404)

        # nobody of the world's roster is on duty today: the manager assigns; a technician may not
        assert o["state"] == "new" and o["assignee_staff_id"] is None
        code, body = await call(base, "POST", f"/workorders/{o['id']}/transitions", tech,
                                {"action": "assign", "staff_id": w["sA"]})
        assert code == 403, body
        code, o = await call(base, "POST", f"/workorders/{o['id']}/transitions", mgr,
                             {"action": "assign", "staff_id": w["sA"]})
        assert code == 200 and o["assignee_staff_id"] == w["sA"], o
        # the assignee works it; the resident cannot
        code, body = await call(base, "POST", f"/workorders/{o['id']}/transitions", res_a, {"action": "accept"})
        assert code == 403, body
        code, body = await call(base, "POST", f"/workorders/{o['id']}/transitions", tech,
                                {"action": "complete"})
        assert code == 409 and body["error"]["code"] == "invalid_transition", body
        code, body = await call(base, "POST", f"/workorders/{o['id']}/transitions", tech,
                                {"action": "accept", "version": o["version"] - 1})
        assert code == 409 and body["error"]["code"] == "concurrent_update", body
        code, acc = await call(base, "POST", f"/workorders/{o['id']}/transitions", tech,
                               {"action": "accept", "version": o["version"], "comment": "on my way"})
        assert code == 200 and acc["state"] == "accepted" and acc["timeline"][-1]["actor"] == "tech"
        code, body = await call(base, "POST", f"/workorders/{o['id']}/costs", tech,
                                {"kind": "part", "description": "washer", "quantity": 1.5, "unit_price": "2"})
        assert code == 422 and "quantity" in body["error"]["fields"]
        code, body = await call(base, "POST", f"/workorders/{o['id']}/rating", res_a, {"score": 5})
        assert code == 409 and body["error"]["code"] == "rating_refused"
        code, body = await call(base, "POST", f"/workorders/{o['id']}/rating", res_a2, {"score": 1})
        assert code == 404
        code, board = await call(base, "GET", "/workorders/board", mgr)
        assert code == 200 and board["by_state"] == {"accepted": 1}

        # activities: a tower-B event is invisible to tower-A residents
        soon = root.context.provides["business"].clock() + timedelta(days=10)
        start, end = soon.isoformat(), (soon + timedelta(hours=2)).isoformat()
        code, act = await call(base, "POST", "/activities", mgr_b, {
            "title": "亲子手工", "place": "B栋会所", "starts_at": start, "ends_at": end, "capacity": 1,
            "building_id": w["bB"]})
        assert code == 201, act
        code, body = await call(base, "POST", "/activities", mgr_b, {
            "title": "x", "place": "A", "starts_at": start, "ends_at": end,
            "capacity": 1, "building_id": w["bA"]})
        assert code == 403, body
        code, listing = await call(base, "GET", "/activities", res_a)
        assert [a["id"] for a in listing["items"]] == []
        code, listing = await call(base, "GET", "/activities", res_b)
        assert [a["id"] for a in listing["items"]] == [act["id"]]
        code, body = await call(base, "POST", f"/activities/{act['id']}/registration", res_a, {})
        assert code == 404
        code, r = await call(base, "POST", f"/activities/{act['id']}/registration", res_b)   # no body needed
        assert code == 201 and r["status"] == "confirmed", r

        code, rel = await call(base, "GET", f"/workorders/reliability/{w['aA']}?days=30", mgr)
        assert code == 200 and rel["failures"] == 0 and rel["mttr_hours"] is None, rel
        code, _ = await call(base, "GET", f"/workorders/reliability/{w['aA']}", mgr_b)
        assert code == 404                                   # tower A's asset is outside tower B
        code, _ = await call(base, "GET", "/workorders/figures", res_a)
        assert code == 403
        code, cal = await call(base, "GET", "/pm/calendar", mgr)
        assert code == 200 and cal == {"orders": [], "plans": []}
        code, _ = await call(base, "GET", "/pm/plans", res_a)
        assert code == 403
        code, body = await call(base, "POST", f"/activities/{act['id']}/cancel", mgr_b)
        assert code == 200 and body["status"] == "cancelled", body
        code, body = await call(base, "POST", f"/activities/{act['id']}/cancel", mgr_b, {"reason": "rain"})
        assert code == 409 and body["error"]["code"] == "activity_conflict"
        code, doc = await call(base, "GET", "/openapi.json", mgr)
        ops = doc["paths"]["/workorders/{id}/transitions"]["post"]
        assert ops["x-permission"] == "workorders.update"
        assert "/activities/{id}/registration" in doc["paths"] and "/pm/compliance" in doc["paths"]
    finally:
        await root.stopService()
