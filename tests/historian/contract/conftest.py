"""The history contract suite runs against the embedded store and the real InfluxDB alike."""

from __future__ import annotations

import uuid

import pytest
import pytest_twisted

from tagdb.historian.points import PointSchema


@pytest.fixture(params=["embedded", "influxdb"])
def store_kind(request):
    """Which backend; resolving ``influx_url`` here keeps a skip out of the async fixture."""
    return request.param, (request.getfixturevalue("influx_url") if request.param == "influxdb" else None)


@pytest_twisted.async_yield_fixture
async def store(store_kind, tmp_path):
    """A fresh sink (which is also the history reader) of each kind."""
    from twisted.internet import reactor

    kind, influx_url = store_kind
    if kind == "embedded":
        from tagdb.historian.sinks.embedded import EmbeddedSink
        sink = EmbeddedSink("embedded", tmp_path / "history.sqlite", reactor=reactor)
        yield sink
        await sink.close()
        return
    from tagdb.historian.sinks.influx_v1 import InfluxV1Sink
    sink = InfluxV1Sink("influx", influx_url, f"contract_{uuid.uuid4().hex[:10]}", reactor=reactor,
                        schema=PointSchema(), precision="u", gzip=True)
    yield sink
    await sink._query(f'DROP DATABASE "{sink.database}"', method="POST")
    await sink.close()
