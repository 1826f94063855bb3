"""The history contract suite runs against the embedded store and the real InfluxDB alike."""

from __future__ import annotations

import uuid

import pytest
import pytest_twisted

from tagdb.historian.points import PointSchema


@pytest_twisted.async_yield_fixture(params=["embedded", "influxdb"])
async def store(request, tmp_path):
    """A fresh sink (which is also the history reader) of each kind."""
    from twisted.internet import reactor

    if request.param == "embedded":
        from tagdb.historian.sinks.embedded import EmbeddedSink
        sink = EmbeddedSink("embedded", tmp_path / "history.sqlite", reactor=reactor)
        yield sink
        await sink.close()
        return
    influx_url = request.getfixturevalue("influx_url")
    from tagdb.historian.sinks.influx_v1 import InfluxV1Sink
    sink = InfluxV1Sink("influx", influx_url, f"contract_{uuid.uuid4().hex[:10]}", reactor=reactor,
                        schema=PointSchema(), precision="u", gzip=True)
    yield sink
    await sink._query(f'DROP DATABASE "{sink.database}"', method="POST")
    await sink.close()
