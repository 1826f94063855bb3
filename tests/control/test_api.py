"""``/api/v1/commands`` over real loopback HTTP: the tag server's service tree with control mounted."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest_twisted
import treq
from twisted.internet import reactor

from tagdb.server.root import Component, build_root, make_context
from tagdb.site.model import SiteModel, TagSpec
from tagdb.values import GOOD, TagValue, WriteResult, WriteStatus

from .helpers import section

OPERATOR = "operator-token-0123456789"
VIEWER = "viewer-token-0123456789"
TOKENS = {OPERATOR: {"user": "op-1", "permissions": ["tags.read", "tags.write"]},
          VIEWER: {"user": "viewer", "permissions": ["tags.read"]}}
TAGS = (
    TagSpec("plant/chiller-1/setpoint", "float64", "plc1", "hr:0", access="rw", eu_lo=4, eu_hi=15),
    TagSpec("plant/chiller-1/run_cmd", "bool", "plc1", "co:0", access="rw"),
    TagSpec("plant/chiller-1/supply_temp", "float64", "plc1", "ir:0", access="r"),
)
CONTROL = """
readback_timeout: 2s
critical: [plant/*/run_cmd]
loops:
  chw:
    pv: plant/chiller-1/supply_temp
    out: plant/chiller-1/setpoint
    sp: 7.0
    kp: 0.5
    ti: 120s
    action: reverse
    out_min: 5
    out_max: 12
    mode: manual
"""
COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("control", "control.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))


class Device:
    """A collector whose writes read back at once (or not at all when ``silent``)."""

    def __init__(self, db) -> None:
        self.db = db
        self.silent = False
        self.writes = []

    async def write_tag(self, spec, value):
        self.writes.append((spec.path, value))
        if not self.silent:
            ts = datetime.now(timezone.utc)
            self.db.update([TagValue(spec.path, value, GOOD, ts, ts)])
        return WriteResult(spec.path, value, WriteStatus.OK)


@pytest_twisted.async_yield_fixture
async def server(tmp_path):
    api = {"address": "127.0.0.1", "port": 8080, "tokens": TOKENS}
    site = SiteModel(name="control-api", timezone="Asia/Shanghai", files=(), buildings=(), devices={}, tags=TAGS,
                     equipment=(), sections={"server": {"api": api}, "control": section(CONTROL)})
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    dev = Device(ctx.tags)
    ctx.tags.register_writer("plc1", dev)
    ts = datetime.now(timezone.utc)
    ctx.tags.update([TagValue(t.path, v, GOOD, ts, ts) for t, v in zip(TAGS, (7.0, False, 7.5))])
    await root.startService()
    yield root, ctx, dev
    await root.stopService()


async def call(ctx, method, path, token=None, body=None):
    headers = {"Content-Type": ["application/json"]}
    if token:
        headers["Authorization"] = [f"Bearer {token}"]
    resp = await treq.request(method, ctx.provides["api_url"] + path, headers=headers,
                              data=json.dumps(body).encode() if body is not None else None)
    return resp.code, json.loads(await resp.content())


@pytest_twisted.ensureDeferred
async def test_command_round_trip_and_audit_over_http(server, tmp_path):
    root, ctx, dev = server
    code, body = await call(ctx, "POST", "/commands", OPERATOR,
                            {"path": "plant/chiller-1/setpoint", "value": 8.5, "reason": "night setback"})
    assert code == 200, body
    assert body["status"] == "done" and body["user"] == "op-1" and body["old_value"] == 7.0
    assert body["new_value"] == 8.5 and body["reason"] == "night setback" and body["readback"] == 8.5
    # Critical: confirmation required (409), then done with confirm.
    code, body = await call(ctx, "POST", "/commands", OPERATOR, {"path": "plant/chiller-1/run_cmd", "value": True})
    assert code == 409 and body["error"]["code"] == "confirmation_required"
    code, body = await call(ctx, "POST", "/commands", OPERATOR,
                            {"path": "plant/chiller-1/run_cmd", "value": True, "confirm": True})
    assert code == 200 and body["status"] == "done"
    # Refused: viewer lacks tags.write (403); no token is audited as anonymous; bad token 401.
    code, body = await call(ctx, "POST", "/commands", VIEWER, {"path": "plant/chiller-1/setpoint", "value": 9})
    assert code == 403 and body["error"]["code"] == "command_refused"
    code, body = await call(ctx, "POST", "/commands", None, {"path": "plant/chiller-1/setpoint", "value": 9})
    assert code == 403 and body["error"]["record"]["user"] == "anonymous"
    code, body = await call(ctx, "POST", "/commands", "wrong-token", {"path": "plant/chiller-1/setpoint", "value": 9})
    assert code == 401
    # Out of the tag's range: the tag database refuses, the command failed.
    code, body = await call(ctx, "POST", "/commands", OPERATOR, {"path": "plant/chiller-1/setpoint", "value": 99})
    assert code == 502 and "outside the range" in body["error"]["message"]
    # The device accepts but never shows the value: failed after the read-back timeout.
    dev.silent = True
    code, body = await call(ctx, "POST", "/commands", OPERATOR, {"path": "plant/chiller-1/setpoint", "value": 9.5})
    assert code == 502 and "did not confirm" in body["error"]["message"]
    # Malformed requests name the field.
    code, body = await call(ctx, "POST", "/commands", OPERATOR, {"value": 1})
    assert code == 400 and body["error"]["field"] == "path"
    # The audit trail lists every attempt, newest first, refused and failed ones included.
    code, body = await call(ctx, "GET", "/commands?n=20", VIEWER)
    assert code == 200
    assert [r["status"] for r in body] == ["failed", "failed", "refused", "refused", "done",
                                           "confirmation_required", "done"]
    lines = (tmp_path / "audit" / "commands.jsonl").read_text().splitlines()
    assert len(lines) == 7


@pytest_twisted.ensureDeferred
async def test_loop_commands_over_http(server):
    root, ctx, dev = server
    code, body = await call(ctx, "POST", "/commands/loops/chw", OPERATOR, {"out": 9.0, "reason": "test"})
    assert code == 200, body
    code, body = await call(ctx, "GET", "/commands/loops", VIEWER)
    assert code == 200 and body["chw"]["mode"] == "manual"
    code, body = await call(ctx, "GET", "/commands/loops")        # tokens configured: reads need one
    assert code == 401
    code, body = await call(ctx, "POST", "/commands/loops/chw", OPERATOR, {"mode": "sideways"})
    assert code == 409 and "mode must be one of" in body["error"]["message"]
    code, body = await call(ctx, "POST", "/commands/loops/chw", OPERATOR, {"mode": "auto", "sp": 6.5})
    assert code == 200 and [r["status"] for r in body] == ["done", "done"]
    assert ctx.provides["control"].loop("chw").state.mode == "auto"
    code, body = await call(ctx, "GET", "/openapi.json")
    assert "/commands" in body["paths"] and "/commands/loops/{name}" in body["paths"]
