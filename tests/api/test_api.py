"""The REST API over real loopback HTTP, against the real TagDatabase and a fake collector."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest_twisted
import treq
from twisted.internet import reactor

from tagdb.api.http import JsonResource
from tagdb.api.openapi import Operation, Param, Response
from tagdb.server.root import Component, build_root, make_context
from tagdb.site.model import SiteModel, TagSpec
from tagdb.values import GOOD, TagValue, WriteResult, WriteStatus

READER = "reader-token-0123456789"
WRITER = "writer-token-0123456789"
TOKENS = {READER: {"user": "dashboard", "permissions": ["tags.read"], "roles": ["api"]},
          WRITER: {"user": "operator-1", "permissions": ["tags.read", "tags.write"], "roles": ["api"]}}

TAGS = (
    TagSpec("plant/chiller-1/supply_temp", "float64", "plc1", "hr:0", units="°C", access="r"),
    TagSpec("plant/chiller-1/setpoint", "float64", "plc1", "hr:2", units="°C", access="rw", eu_lo=4, eu_hi=15),
    TagSpec("plant/chiller-1/run", "bool", "plc1", "co:0", access="rw"),
    TagSpec("tower-a/elevator-1/current_floor", "int16", "plc2", "hr:10", access="r"),
)
COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))


class FakeCollector:
    """A TagWriter whose answer per path is scripted; records what reached the device."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.answers: dict[str, tuple[WriteStatus, str, str]] = {}

    async def write_tag(self, spec, value):
        self.calls.append((spec.path, value))
        status, message, device_status = self.answers.get(spec.path, (WriteStatus.OK, "", ""))
        return WriteResult(spec.path, value, status, message, device_status)


class Server:
    def __init__(self, root, collector) -> None:
        self.root = root
        self.ctx = root.context
        self.collector = collector
        self.base = self.ctx.provides["api_url"]

    async def call(self, method: str, path: str, token: str | None = None, body=None, raw: bytes | None = None,
                   headers: dict | None = None):
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        resp = await treq.request(method, self.base + path, data=data,
                                  headers={k: [v] for k, v in hdrs.items()})
        content = await resp.content()
        payload = json.loads(content) if content else None
        return resp, payload


async def start_server(tmp_path, tokens=TOKENS, mount=None, **api) -> Server:
    api = {"address": "127.0.0.1", "port": 8080, "tokens": tokens, **api}
    site = SiteModel(name="api-test", timezone="UTC", files=(), buildings=(), devices={}, tags=TAGS,
                     equipment=(), sections={"server": {"api": api}})
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    if mount:
        mount(ctx)
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    collector = FakeCollector()
    ctx.tags.register_writer("plc1", collector)
    await root.startService()
    return Server(root, collector)


@pytest_twisted.async_yield_fixture
async def server(tmp_path):
    srv = await start_server(tmp_path)
    yield srv
    await srv.root.stopService()


def assert_error(resp, payload, status, code, field=None):
    assert resp.code == status, payload
    assert resp.headers.getRawHeaders("content-type")[0].startswith("application/json")
    assert set(payload) == {"error"} and payload["error"]["code"] == code
    assert isinstance(payload["error"]["message"], str) and payload["error"]["message"]
    if field is not None:
        assert payload["error"]["field"] == field
        assert field in payload["error"]["message"]


@pytest_twisted.ensureDeferred
async def test_health(server):
    resp, body = await server.call("GET", "/health")
    assert resp.code == 200
    assert body["status"] == "ok" and body["site"] == "api-test"
    assert body["tag_count"] == len(server.ctx.tags) >= len(TAGS)
    assert body["components"]["tagdb"]["state"] == "running"
    assert body["components"]["api"]["state"] == "running"
    assert body["components"]["api"]["url"] == server.base
    assert body["uptime_s"] >= 0


@pytest_twisted.ensureDeferred
async def test_list_and_get_tags(server):
    ts = datetime(2026, 11, 28, 8, 0, 0, 123456, tzinfo=timezone.utc)
    server.ctx.tags.update([TagValue("plant/chiller-1/supply_temp", 6.5, GOOD, ts, ts)])
    resp, body = await server.call("GET", "/tags?match=plant/**", READER)
    assert resp.code == 200
    assert [t["path"] for t in body] == [t.path for t in TAGS[:3]]
    temp = body[0]
    assert set(temp) == {"path", "value", "quality", "quality_detail", "source_ts", "server_ts", "units"}
    assert temp["value"] == 6.5 and temp["quality"] == "Good" and temp["units"] == "°C"
    assert temp["source_ts"] == "2026-11-28T08:00:00.123456Z"
    assert temp["server_ts"].endswith("Z")
    assert body[1]["quality"] == "BadWaitingForInitialData" and body[1]["value"] is None

    resp, one = await server.call("GET", "/tags/plant/chiller-1/supply_temp", READER)
    assert resp.code == 200 and one == temp
    resp, encoded = await server.call("GET", "/tags/plant%2Fchiller-1%2Fsupply_temp", READER)
    assert encoded == temp

    resp, everything = await server.call("GET", "/tags", READER)
    assert {t.path for t in TAGS} <= {t["path"] for t in everything}


@pytest_twisted.ensureDeferred
async def test_large_listing_is_encoded_off_the_reactor_thread(server, monkeypatch):
    from tagdb.api import tags as tags_module

    resp, inline = await server.call("GET", "/tags?match=plant/**", READER)
    threads = []
    real = tags_module.encode_tags
    monkeypatch.setattr(tags_module, "encode_tags", lambda items: (threads.append(threading.current_thread()),
                                                                   real(items))[1])
    monkeypatch.setattr(tags_module, "THREAD_ROWS", 2)
    resp, threaded = await server.call("GET", "/tags?match=plant/**", READER)
    assert resp.code == 200 and threaded == inline and len(threaded) == 3
    assert threads and threads[0] is not threading.main_thread()


@pytest_twisted.ensureDeferred
async def test_read_errors(server):
    assert_error(*await server.call("GET", "/tags/plant/nope", READER), 404, "no_such_tag")
    assert_error(*await server.call("GET", "/tags?match=pl**nt/x", READER), 400, "bad_request", "match")
    assert_error(*await server.call("GET", "/tags"), 401, "unauthorized")
    resp, body = await server.call("GET", "/tags", "not-a-valid-token-at-all")
    assert_error(resp, body, 401, "unauthorized")
    assert resp.headers.getRawHeaders("www-authenticate") == ['Bearer realm="spms"']
    assert_error(*await server.call("GET", "/tags", headers={"Authorization": "Basic eDp5"}), 401, "unauthorized")
    no_read = {"x" * 20: {"user": "nobody", "permissions": ["alarms.read"]}}
    server.ctx.auth = type(server.ctx.auth)(no_read)
    assert_error(*await server.call("GET", "/tags", "x" * 20), 403, "forbidden")


@pytest_twisted.ensureDeferred
async def test_write_routed_to_the_collector_and_audited(server):
    resp, body = await server.call("POST", "/tags/plant/chiller-1/setpoint/write", WRITER,
                                   {"value": 7.5, "reason": "night setback"})
    assert resp.code == 200, body
    assert body["status"] == "ok" and body["path"] == "plant/chiller-1/setpoint" and body["value"] == 7.5
    assert server.collector.calls == [("plant/chiller-1/setpoint", 7.5)]
    audit = server.ctx.provides["write_audit"].recent(5)
    assert audit[-1].user == "operator-1" and audit[-1].reason == "night setback"
    assert audit[-1].status is WriteStatus.OK


@pytest_twisted.ensureDeferred
async def test_write_bad_requests(server):
    url = "/tags/plant/chiller-1/setpoint/write"
    assert_error(*await server.call("POST", url, None, {"value": 7}), 401, "unauthorized")
    assert_error(*await server.call("POST", url, "wrong-token-0123456789", {"value": 7}), 401, "unauthorized")
    assert_error(*await server.call("POST", url, READER, {"value": 7}), 403, "forbidden")
    assert_error(*await server.call("POST", url, WRITER, raw=b"{value: 7"), 400, "bad_json")
    assert_error(*await server.call("POST", url, WRITER, raw=b""), 400, "bad_json")
    assert_error(*await server.call("POST", url, WRITER, [7]), 400, "bad_json")
    assert_error(*await server.call("POST", url, WRITER, {"reason": "x"}), 400, "bad_request", "value")
    assert_error(*await server.call("POST", url, WRITER, {"value": None}), 400, "bad_request", "value")
    assert_error(*await server.call("POST", url, WRITER, {"value": 7, "force": True}), 400, "bad_request", "force")
    assert_error(*await server.call("POST", url, WRITER, {"value": 7, "reason": 3}), 400, "bad_request", "reason")
    assert_error(*await server.call("POST", url, WRITER, raw=b"value=7",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    # None of these reached the device.
    assert server.collector.calls == []


@pytest_twisted.ensureDeferred
async def test_write_refusals_map_to_http_codes(server):
    c = server.collector
    resp, body = await server.call("POST", "/tags/plant/nope/write", WRITER, {"value": 1})
    assert_error(resp, body, 404, "no_such_tag")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/supply_temp/write", WRITER, {"value": 1}),
                 409, "read_only")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/setpoint/write", WRITER, {"value": 99}),
                 422, "out_of_range")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/run/write", WRITER, {"value": "on"}),
                 422, "bad_type")
    assert c.calls == []
    c.answers["plant/chiller-1/setpoint"] = (WriteStatus.DEVICE_EXCEPTION, "illegal data address",
                                             "modbus exception 02")
    resp, body = await server.call("POST", "/tags/plant/chiller-1/setpoint/write", WRITER, {"value": 8})
    assert_error(resp, body, 502, "device_exception")
    assert body["error"]["device_status"] == "modbus exception 02"
    assert body["error"]["message"] == "illegal data address"
    c.answers["plant/chiller-1/setpoint"] = (WriteStatus.DEVICE_UNREACHABLE, "connection refused", "")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/setpoint/write", WRITER, {"value": 8}),
                 503, "device_unreachable")
    c.answers["plant/chiller-1/setpoint"] = (WriteStatus.TIMEOUT, "no answer in 2 s", "")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/setpoint/write", WRITER, {"value": 8}),
                 504, "timeout")
    assert c.calls == [("plant/chiller-1/setpoint", 8.0)] * 3
    # A device without a collector is unreachable, not an internal error.
    server.ctx.tags.unregister_writer("plc1")
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/run/write", WRITER, {"value": True}),
                 503, "device_unreachable")


@pytest_twisted.ensureDeferred
async def test_methods_and_unknown_paths(server):
    resp, body = await server.call("DELETE", "/tags/plant/chiller-1/setpoint", WRITER)
    assert_error(resp, body, 405, "method_not_allowed")
    assert set(resp.headers.getRawHeaders("allow")[0].split(", ")) == {"GET", "POST"}
    assert_error(*await server.call("POST", "/tags/plant/chiller-1/setpoint", WRITER, {"value": 1}),
                 405, "method_not_allowed")
    assert_error(*await server.call("POST", "/health"), 405, "method_not_allowed")
    assert_error(*await server.call("GET", "/nope"), 404, "not_found")
    resp = await treq.get(server.base.replace("/api/v1", "/index.html"))
    assert resp.code == 404 and (await resp.json())["error"]["code"] == "not_found"


class Echo(JsonResource):
    async def on_get(self, request):
        return 200, {"mounted": True, "rest": [s.decode() for s in request.postpath]}


ECHO_OP = Operation("GET", "/echo/{thing}", "Echo", "getEcho", tags=("test",), parameters=(Param("thing", "path"),),
                    responses={200: Response("echoed", {"type": "object"})})


@pytest_twisted.ensureDeferred
async def test_openapi_lists_every_served_route_and_mounts(tmp_path):
    srv = await start_server(tmp_path, mount=lambda ctx: ctx.mount_api("echo", Echo(), [ECHO_OP]))
    try:
        resp, mounted = await srv.call("GET", "/echo/abc", READER)
        assert resp.code == 200 and mounted == {"mounted": True, "rest": ["abc"]}
        resp, doc = await srv.call("GET", "/openapi.json")
        assert resp.code == 200 and doc["openapi"] == "3.1.0"
        served = {("get", "/health"), ("get", "/openapi.json"), ("get", "/tags"), ("get", "/tags/{path}"),
                  ("post", "/tags/{path}/write"), ("get", "/echo/{thing}")}
        documented = {(m, p) for p, item in doc["paths"].items() for m in item}
        assert documented == served
        refs = json.dumps(doc["paths"])
        for name in doc["components"]["schemas"]:
            assert name == "Error" or f"#/components/schemas/{name}" in refs
        for name in ("TagValue", "WriteRequest", "WriteResult", "Health"):
            assert f"#/components/schemas/{name}" in refs and name in doc["components"]["schemas"]
        assert doc["paths"]["/tags/{path}/write"]["post"]["x-permission"] == "tags.write"
    finally:
        await srv.root.stopService()


@pytest_twisted.ensureDeferred
async def test_reads_are_open_without_configured_tokens_but_writes_are_not(tmp_path):
    srv = await start_server(tmp_path, tokens={})
    try:
        resp, body = await srv.call("GET", "/tags/plant/chiller-1/run")
        assert resp.code == 200 and body["path"] == "plant/chiller-1/run"
        assert_error(*await srv.call("POST", "/tags/plant/chiller-1/run/write", None, {"value": True}),
                     401, "unauthorized")
        # A sent but unknown token is refused even where anonymous reads are allowed.
        assert_error(*await srv.call("GET", "/tags", "whatever-token-0123456"), 401, "unauthorized")
    finally:
        await srv.root.stopService()


@pytest_twisted.ensureDeferred
async def test_anonymous_read_setting_overrides_the_default(tmp_path):
    srv = await start_server(tmp_path, anonymous_read=True)
    try:
        resp, body = await srv.call("GET", "/tags/plant/chiller-1/run")
        assert resp.code == 200
        # Anonymous callers still never write.
        assert_error(*await srv.call("POST", "/tags/plant/chiller-1/run/write", None, {"value": True}),
                     401, "unauthorized")
    finally:
        await srv.root.stopService()


def test_port_and_address_come_from_the_server_section(tmp_path):
    from tagdb.api.service import from_config

    site = SiteModel(name="s", timezone="UTC", files=(), buildings=(), devices={}, tags=(), equipment=(),
                     sections={"server": {"api": {"address": "127.0.0.2", "port": 18080, "tokens": {}}}})
    ctx = make_context(site, reactor, tmp_path)
    service = from_config(ctx)
    assert (service.name, service.address, service.configured_port) == ("api", "127.0.0.2", 18080)
    ctx.provides["api_port"] = 0
    assert from_config(ctx).configured_port == 0


def test_missing_server_section_binds_loopback(tmp_path):
    from tagdb.api.service import from_config

    site = SiteModel(name="s", timezone="UTC", files=(), buildings=(), devices={}, tags=(), equipment=(),
                     sections={})
    service = from_config(make_context(site, reactor, tmp_path))
    assert service.address == "127.0.0.1"
