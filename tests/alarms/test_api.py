"""The alarms REST API over real loopback HTTP, in the real service tree (tagdb, alarms, api)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest_twisted
import treq
from twisted.internet import reactor

from tagdb.server.root import Component, build_root, make_context
from tagdb.values import GOOD, TagValue

from .conftest import TEMP, make_site

OPERATOR = "operator-token-0123456789"
VIEWER = "viewer-token-0123456789"
SERVER = f"""
server:
  api:
    address: 127.0.0.1
    port: 8080
    tokens:
      {OPERATOR}: {{user: li.wei, permissions: [tags.read, alarms.read, alarms.ack, alarms.shelve]}}
      {VIEWER}: {{user: dashboard, permissions: [tags.read]}}
alarms:
  comm_alarms: false
"""
COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("alarms", "alarms.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))
H = f"{TEMP}:H"


class Client:
    def __init__(self, root) -> None:
        self.root = root
        self.ctx = root.context
        self.base = self.ctx.provides["api_url"] + "/alarms"

    async def call(self, method, path="", token=None, body=None):
        headers = {"Content-Type": ["application/json"]}
        if token:
            headers["Authorization"] = [f"Bearer {token}"]
        resp = await treq.request(method, self.base + path, headers=headers,
                                  data=json.dumps(body).encode() if body is not None else None)
        return resp.code, json.loads(await resp.content())

    def put(self, path, value):
        now = datetime.now(timezone.utc)
        self.ctx.tags.update([TagValue(path, value, GOOD, now, now)])


@pytest_twisted.async_yield_fixture
async def api(tmp_path):
    site = make_site(tmp_path / "site", SERVER)
    ctx = make_context(site, reactor, tmp_path / "data")
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path / "data", components=COMPONENTS, context=ctx)
    await root.startService()
    yield Client(root)
    await root.stopService()


async def settle(client, predicate, turns=200):
    from twisted.internet import task

    for _ in range(turns):
        if predicate():
            return
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("condition not reached")


@pytest_twisted.ensureDeferred
async def test_active_alarms_ack_shelve_and_journal(api):
    api.put(TEMP, 9.7)
    engine = api.ctx.provides["alarms"]
    await settle(api, lambda: engine.get(H).state.value == "unack_active")

    code, body = await api.call("GET", "", OPERATOR)
    assert code == 200 and [a["id"] for a in body] == [H]
    assert body[0]["state"] == "unack_active" and body[0]["priority"] == "high" and body[0]["value"] == 9.7
    api.put(TEMP, 9.8)
    await settle(api, lambda: engine.eval.values[TEMP].value == 9.8)
    code, body = await api.call("GET", "", OPERATOR)
    assert body[0]["value"] == 9.7 and body[0]["current"] == 9.8   # at activation vs now
    code, body = await api.call("GET", "?area=somewhere-else", OPERATOR)
    assert body == []
    code, body = await api.call("GET", "?state=normal&priority=high", OPERATOR)
    assert {a["id"] for a in body} == {f"{TEMP}:HH", f"{TEMP}:L"}

    code, body = await api.call("POST", "/ack", OPERATOR, {"alarm": H, "comment": "on my way"})
    assert code == 200 and body["alarm"]["state"] == "ack_active"
    assert body["transition"]["user"] == "li.wei"                 # the token's user, not a body field

    code, body = await api.call("POST", "/shelve", OPERATOR, {"alarm": H, "comment": "recalibration",
                                                             "duration": "2h"})
    assert code == 200 and body["alarm"]["shelved"]["by"] == "li.wei"
    code, body = await api.call("POST", "/unshelve", OPERATOR, {"alarm": H, "comment": "done"})
    assert code == 200 and body["alarm"]["state"] == "unack_active"

    await settle(api, lambda: len(api.ctx.provides["alarm_system"].store.query(alarm_id=H)) == 4)
    code, rows = await api.call("GET", f"/journal?alarm={H}", OPERATOR)
    assert [r["kind"] for r in rows] == ["unshelve", "shelve", "ack", "activate"]
    assert rows[1]["comment"] == "recalibration" and rows[1]["user"] == "li.wei"

    code, kpi = await api.call("GET", "/kpi", OPERATOR)
    assert code == 200 and kpi["alarms_10min"] == 1 and kpi["unacknowledged"] == 1


@pytest_twisted.ensureDeferred
async def test_permissions_and_errors(api):
    api.put(TEMP, 9.7)
    engine = api.ctx.provides["alarms"]
    await settle(api, lambda: engine.get(H).state.value == "unack_active")
    code, body = await api.call("GET", "", VIEWER)
    assert code == 200                                              # tags.read may read alarms
    code, body = await api.call("POST", "/ack", VIEWER, {"alarm": H, "comment": "x"})
    assert code == 403 and "alarms.ack" in body["error"]["message"]
    code, body = await api.call("POST", "/ack", None, {"alarm": H, "comment": "x"})
    assert code == 401
    code, body = await api.call("POST", "/ack", OPERATOR, {"alarm": H})
    assert code == 400 and body["error"]["field"] == "comment"
    code, body = await api.call("POST", "/ack", OPERATOR, {"alarm": "nope:H", "comment": "x"})
    assert code == 404
    code, body = await api.call("POST", "/ack", OPERATOR, {"alarm": f"{TEMP}:L", "comment": "x"})
    assert code == 409
    code, body = await api.call("POST", "/shelve", OPERATOR, {"alarm": H, "comment": "x", "duration": "soon"})
    assert code == 400 and body["error"]["field"] == "duration"
    code, body = await api.call("GET", "?state=bogus", OPERATOR)
    assert code == 400
    code, body = await api.call("GET", "/journal?since=yesterday", OPERATOR)
    assert code == 400
    assert engine.get(H).state.value == "unack_active"


@pytest_twisted.ensureDeferred
async def test_operations_are_documented_in_openapi(api):
    resp = await treq.get(api.ctx.provides["api_url"] + "/openapi.json")
    doc = json.loads(await resp.content())
    assert resp.code == 200
    assert doc["paths"]["/alarms/ack"]["post"]["x-permission"] == "alarms.ack"
    assert doc["paths"]["/alarms/shelve"]["post"]["x-permission"] == "alarms.shelve"
    assert "get" in doc["paths"]["/alarms/journal"]
