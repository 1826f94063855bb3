"""The historian component in the service tree: tag DB → buffer → embedded store → REST and system tags."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor, task

from tagdb.contracts import HistoryEvent, HistoryQuery
from tagdb.historian.errors import QueryError
from tagdb.historian.schema import SECTION
from tagdb.server.root import Component, build_root, make_context
from tagdb.site.errors import Loc
from tagdb.site.model import SiteModel, TagSpec
from tagdb.values import BAD_COMM_FAILURE, GOOD, TagValue

from .helpers import T0, at, wait_for

TAGS = (
    TagSpec("plant/chiller-1/supply_temp", "float64", None, None, units="°C"),
    TagSpec("plant/chiller-1/run", "bool", None, None),
    TagSpec("plant/chiller-1/debug_counter", "int32", None, None, history=False),
    TagSpec("plant/meter-1/energy_kwh", "float64", None, None, units="kWh"),
)
COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("historian", "tagdb.historian.service", lambda s: True),
              Component("api", "tagdb.api.service", lambda s: True))


async def _start(tmp_path, historian_conf=None):
    section, errors = SECTION.check(historian_conf or {}, "historian", Loc("test"))
    assert errors == []
    site = SiteModel(name="h", timezone="UTC", files=(), buildings=(), devices={}, tags=TAGS, equipment=(),
                     sections={"server": {"api": {"address": "127.0.0.1", "port": 0, "tokens": {}}},
                               "historian": section})
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    await root.startService()
    return root, ctx


async def _get(ctx, path: str):
    resp = await treq.get(ctx.provides["api_url"] + path)
    return resp.code, json.loads(await resp.content())


@pytest_twisted.ensureDeferred
async def test_changes_flow_to_the_store_and_back_out_through_rest(tmp_path):
    root, ctx = await _start(tmp_path)
    history = ctx.provides["history"]
    try:
        assert isinstance(history, HistoryQuery)
        for i in range(5):   # one change per reactor turn: the tag DB keeps the last value of a turn
            ctx.tags.update([TagValue("plant/chiller-1/supply_temp", 6.0 + i / 10, GOOD, at(i), at(i))])
            await task.deferLater(reactor, 0.001, lambda: None)
        ctx.tags.update([TagValue("plant/chiller-1/debug_counter", 7, GOOD, at(1), at(1)),
                         TagValue("plant/meter-1/energy_kwh", 1000.0, GOOD, at(60), at(60))])
        await task.deferLater(reactor, 0.001, lambda: None)
        ctx.tags.update([TagValue("plant/meter-1/energy_kwh", 1001.5, BAD_COMM_FAILURE, at(120), at(120))])
        fwd = history.forwarders["embedded"]
        await wait_for(reactor, lambda: fwd.stats.written >= 7 and history.buffer.depth("embedded") == 0,
                       what="values to reach the embedded store")
        raw = await history.raw(["plant/chiller-1/supply_temp", "plant/chiller-1/debug_counter"], T0, at(10))
        assert [p.value for p in raw["plant/chiller-1/supply_temp"]] == [6.0, 6.1, 6.2, 6.3, 6.4]
        assert raw["plant/chiller-1/debug_counter"] == []     # history: false
        many = await history.value_at_many(["plant/meter-1/energy_kwh", "plant/chiller-1/supply_temp",
                                            "plant/chiller-1/debug_counter"], at(119))
        assert (many["plant/meter-1/energy_kwh"].value, many["plant/chiller-1/supply_temp"].value) == (1000.0, 6.4)
        assert many["plant/chiller-1/debug_counter"] is None
        assert await history.value_at_many([], at(119)) == {}
        with pytest.raises(QueryError):
            await history.value_at_many(["plant/meter-1/energy_kwh"], at(119).replace(tzinfo=None))

        code, body = await _get(ctx, "/history?tags=plant/chiller-1/supply_temp&start=2026-11-01T00:00:00Z"
                                     "&end=2026-11-01T00:00:10Z")
        assert code == 200 and body["columns"] == ["ts", "value", "quality"]
        assert body["series"][0]["points"][1] == ["2026-11-01T00:00:01.000000Z", 6.1, 0]
        code, body = await _get(ctx, "/history?tags=plant/chiller-1/supply_temp&start=2026-11-01T00:00:00Z"
                                     "&end=2026-11-01T01:00:00Z&agg=min,max,count&interval=1m")
        assert code == 200 and body["series"][0]["buckets"] == [["2026-11-01T00:00:00.000000Z", 6.0, 6.4, 5]]
        code, body = await _get(ctx, "/history/at?tags=plant/meter-1/energy_kwh&ts=2026-11-01T00:01:59Z")
        assert body["readings"][0]["value"] == 1000.0 and body["readings"][0]["ts"] == "2026-11-01T00:01:00.000000Z"
        code, body = await _get(ctx, "/history/at?tags=plant/meter-1/energy_kwh&ts=2026-11-01T00:02:00Z")
        assert body["readings"][0]["quality_name"] == "BadCommunicationError"

        code, body = await _get(ctx, "/history/status")
        assert code == 200 and body["sinks"]["embedded"]["queue_depth"] == 0
        assert body["sinks"]["embedded"]["dropped"] == 0 and body["buffer"]["near_full"] is False
        await wait_for(reactor, lambda: "_system/historian/embedded/queue_depth" in ctx.tags,
                       what="system tags")
        assert ctx.tags.get("_system/historian/embedded/dropped").value == 0
        assert ctx.tags.get("_system/historian/buffer/near_full").value is False
    finally:
        await root.stopService()


@pytest_twisted.ensureDeferred
async def test_alarm_events_go_through_the_buffer(tmp_path):
    root, ctx = await _start(tmp_path)
    history = ctx.provides["history"]
    try:
        history.write_event(HistoryEvent(ts=at(30), source="plant/chiller-1/supply_temp", state="active",
                                         message="high", priority=1))
        await wait_for(reactor, lambda: history.buffer.depth("embedded") == 0, what="the event to be stored")
        (ev,) = await history.events(T0, at(3600))
        assert (ev.state, ev.priority, ev.message) == ("active", 1, "high")
        code, body = await _get(ctx, "/history/events?start=2026-11-01T00:00:00Z&end=2026-11-01T01:00:00Z")
        assert body["events"][0]["source"] == "plant/chiller-1/supply_temp"
    finally:
        await root.stopService()


@pytest_twisted.ensureDeferred
async def test_bad_requests_name_the_parameter(tmp_path):
    root, ctx = await _start(tmp_path, {"api": {"max_range": "30d", "max_raw_range": "1d", "max_points": 1000}})
    base = "/history?tags=plant/chiller-1/supply_temp"
    try:
        cases = {
            "/history?start=now-1h": "tags",
            "/history?tags=nope/x&start=now-1h": "tags",
            base + "&start=yesterday": "start",
            base + "&start=2026-11-01T00:00:00": "start",
            base + "&start=now-1h&end=now-2h": "end",
            base + "&start=now-2d": "end",
            base + "&start=now-40d&agg=mean&interval=1d": "end",
            base + "&start=now-1h&agg=median&interval=1m": "agg",
            base + "&start=now-1h&agg=mean": "interval",
            base + "&start=now-1h&agg=mean&interval=-5m": "interval",
            base + "&start=now-1d&agg=mean&interval=1s": "interval",
            base + "&start=now-1h&limit=zero": "limit",
            "/history/quarantine?sink=nope": "sink",
        }
        for url, parameter in cases.items():
            code, body = await _get(ctx, url)
            assert code == 400, url
            assert body["error"]["parameter"] == parameter, (url, body)
            assert parameter in body["error"]["message"]
        code, body = await _get(ctx, "/history/nothing")
        assert code == 404
    finally:
        await root.stopService()


def test_section_errors_name_the_field():
    _, errors = SECTION.check({"sinks": {"x": {"type": "influxdb", "url": "ftp://a"}}, "query_sink": "y",
                               "include": ["a/**b"]}, "historian", Loc("site.yaml", 3))
    fields = sorted(e.field for e in errors)
    assert "historian.sinks.x.url" in fields
    _, errors = SECTION.check({"sinks": {"x": {"type": "influxdb", "url": "http://a:8086"}}, "query_sink": "y"},
                              "historian", Loc("site.yaml", 3))
    assert [e.field for e in errors] == ["historian.sinks.x.database"]
    _, errors = SECTION.check({"sinks": {"x": {"type": "influxdb2", "url": "http://a", "token": "t", "org": "o",
                                               "bucket": "b"}}, "query_sink": "x"}, "historian", Loc("s.yaml"))
    assert [e.field for e in errors] == ["historian.query_sink"]


def test_a_broken_buffer_counts_lost_values_instead_of_breaking_the_tag_database(tmp_path):
    from tagdb.historian.buffer import PointBuffer
    from tagdb.historian.history import Historian

    buf = PointBuffer(tmp_path / "b.sqlite", [])
    historian = Historian(buf, [], None, reactor)
    historian.accept([TagValue("a/b", 1.0, GOOD, at(1), at(1))])
    buf._db.close()   # what a vanished disk looks like to SQLite
    historian.accept([TagValue("a/b", 2.0, GOOD, at(2), at(2)), TagValue("a/c", 3.0, GOOD, at(2), at(2))])
    assert historian.append_failures == 2
    assert historian.system_values()["buffer/append_failures"] == 2
