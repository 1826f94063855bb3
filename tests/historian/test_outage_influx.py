"""Outage and bad input against real InfluxDB processes.

The outage test runs its own influxd (it must stop and restart it); the bad
input test uses the server scripts/test started.
"""

from __future__ import annotations

import uuid

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import LoopingCall

from tagdb.historian.buffer import PointBuffer
from tagdb.historian.forwarder import SinkForwarder
from tagdb.historian.points import PointSchema
from tagdb.historian.sinks.influx_v1 import InfluxV1Sink

from tagdb.values import datetime_to_ns

from .helpers import at, tv, wait_for
from .influxd import InfluxProcess

pytestmark = [pytest.mark.influxdb, pytest.mark.slow]

TAGS = [f"site/pump-{i}/flow" for i in range(20)]


@pytest_twisted.ensureDeferred
async def test_stop_and_restart_influxdb_mid_stream_loses_nothing_and_duplicates_nothing(tmp_path, influx_url):
    influx = InfluxProcess(tmp_path / "influx")
    try:
        await influx.start(reactor)
        sink = InfluxV1Sink("influx", influx.url, "outage", reactor=reactor, schema=PointSchema(), timeout=2.0)
        buf = PointBuffer(tmp_path / "buf.sqlite", ["influx"])
        fwd = SinkForwarder(sink, buf, reactor, batch_size=1000, backfill_rate=20_000, retry_min=0.1,
                            retry_max=0.5)
        fwd.start()
        produced = {"n": 0}

        def produce():   # 20 tags x 50 Hz = 1,000 points/s, value = sample number
            n = produced["n"]
            buf.append([tv(p, float(n), at(n * 0.02)) for p in TAGS])
            produced["n"] = n + 1
            fwd.notify()

        loop = LoopingCall(produce)
        loop.clock = reactor
        loop.start(0.02)
        await wait_for(reactor, lambda: produced["n"] >= 75 and fwd.stats.written > 500, what="streaming")
        await influx.stop(reactor)
        at_stop = produced["n"]
        await wait_for(reactor, lambda: produced["n"] >= at_stop + 100, what="values during the outage")
        assert fwd.stats.failing and buf.depth("influx") > 1000
        await influx.start(reactor)
        await wait_for(reactor, lambda: not fwd.stats.failing, timeout=30, what="recovery")
        after = produced["n"]
        await wait_for(reactor, lambda: produced["n"] >= after + 75, what="streaming after the outage")
        loop.stop()
        n = produced["n"]
        await wait_for(reactor, lambda: buf.depth("influx") == 0, timeout=60, what="catch-up")
        series = await sink.influxql('SELECT count("value") AS c, sum("value") AS s, max("value") AS m '
                                     'FROM "point" GROUP BY "path"')
        got = {s["tags"]["path"]: s["values"][0][1:] for s in series}
        assert sorted(got) == sorted(TAGS)
        for path in TAGS:
            count, total, top = got[path]
            # count == n and sum == 0+1+...+(n-1): no gap, no duplicate, for every tag.
            assert (count, total, top) == (n, n * (n - 1) / 2, n - 1), path
        assert buf.counter("influx", "dropped") == 0 and fwd.stats.failures > 0
        await fwd.stop()
        await sink.close()
        buf.close()
    finally:
        influx.kill()


@pytest_twisted.ensureDeferred
async def test_a_point_influxdb_refuses_is_quarantined_and_the_rest_is_stored(tmp_path, influx_url):
    db = f"bad_{uuid.uuid4().hex[:8]}"
    sink = InfluxV1Sink("influx", influx_url, db, reactor=reactor, schema=PointSchema())
    buf = PointBuffer(tmp_path / "buf.sqlite", ["influx"])
    fwd = SinkForwarder(sink, buf, reactor, batch_size=5000, retry_min=0.05)
    # Another writer made "value" a string field of the "system" measurement: our float point for a
    # system tag now gets "400 field type conflict" while the other 2,999 points are fine.
    await sink.ensure_database()
    # (Field types are per shard, so the other point lies in the same week.)
    await sink.write_body(f'system,path=_system/other value="text" {datetime_to_ns(at(1000)) // 1000}'.encode())
    values = [tv("site/meter-1/kw", float(i), at(i)) for i in range(3000)]
    values[1234] = tv("_system/historian/probe", 1.5, at(1234))
    buf.append(values)
    fwd.start()
    try:
        await wait_for(reactor, lambda: buf.depth("influx") == 0, what="the queue to drain")
        series = await sink.influxql('SELECT count("value") FROM "point"')
        assert series[0]["values"][0][1] == 2999
        assert buf.counter("influx", "quarantined") == 1
        (q,) = buf.quarantined("influx")
        assert q["path"] == "_system/historian/probe" and "400" in q["error"] and "conflict" in q["error"]
        buf.append([tv("site/meter-1/kw", 1.0, at(5000))])
        fwd.notify()
        await wait_for(reactor, lambda: buf.depth("influx") == 0, what="later values")
        assert not fwd.stats.failing
    finally:
        await fwd.stop()
        await sink._query(f'DROP DATABASE "{db}"', method="POST")
        await sink.close()
        buf.close()
