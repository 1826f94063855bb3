"""InfluxDB 2.x/3.x native sink: influxdb-client's callbacks feed store-and-forward.

No InfluxDB 2.x server can run here, so a local twisted.web server answers
``/api/v2/write`` the way 2.x does (204, 400 with a JSON body, 401, 503). What
this proves: success acknowledges, every error keeps the batch in the buffer
(or quarantines a refused point), and nothing is lost silently. It does not
prove compatibility with a real 2.x server beyond that endpoint's contract.
"""

from __future__ import annotations

import gzip
import json

import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from tagdb.historian.buffer import PointBuffer
from tagdb.historian.forwarder import SinkForwarder
from tagdb.historian.points import PointSchema
from tagdb.historian.sinks.influx_v2 import InfluxV2Sink

from .helpers import at, tv, wait_for


class FakeV2Write(Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.mode = "up"
        self.lines: list[str] = []
        self.requests = []

    def render_POST(self, request):
        self.requests.append(request.args)
        if request.path != b"/api/v2/write":
            request.setResponseCode(404)
            return b'{"code":"not found","message":"path not found"}'
        if request.getHeader("authorization") != "Token secret-token":
            request.setResponseCode(401)
            return b'{"code":"unauthorized","message":"unauthorized access"}'
        if self.mode == "down":
            request.setResponseCode(503)
            return b'{"code":"unavailable","message":"service unavailable"}'
        body = request.content.read()
        if request.getHeader("content-encoding") == "gzip":
            body = gzip.decompress(body)
        lines = [ln for ln in body.decode().split("\n") if ln]
        bad = [ln for ln in lines if "REJECT" in ln]
        if bad:
            request.setResponseCode(400)
            request.setHeader("content-type", "application/json")
            return json.dumps({"code": "invalid", "message": f"unable to parse '{bad[0]}'"}).encode()
        self.lines.extend(lines)
        request.setResponseCode(204)
        return b""


async def _setup(tmp_path, token="secret-token"):
    server = FakeV2Write()
    port = reactor.listenTCP(0, Site(server), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    sink = InfluxV2Sink("cloud", url, token, "org1", "bucket1", reactor=reactor, schema=PointSchema(),
                        timeout=5.0)
    buf = PointBuffer(tmp_path / "buf.sqlite", ["cloud"])
    fwd = SinkForwarder(sink, buf, reactor, batch_size=100, retry_min=0.05, retry_max=0.2)
    return server, port, sink, buf, fwd


async def _teardown(port, sink, buf, fwd):
    await fwd.stop()
    await sink.close()
    buf.close()
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_errors_flow_back_into_store_and_forward(tmp_path):
    server, port, sink, buf, fwd = await _setup(tmp_path)
    fwd.start()
    try:
        buf.append([tv("b/ahu-1/temp", float(i), at(i)) for i in range(250)])
        fwd.notify()
        await wait_for(reactor, lambda: buf.depth("cloud") == 0, what="first delivery")
        assert len(server.lines) == 250
        assert server.requests[0][b"bucket"] == [b"bucket1"] and server.requests[0][b"precision"] == [b"us"]
        server.mode = "down"
        buf.append([tv("b/ahu-1/temp", float(i), at(i)) for i in range(250, 400)])
        fwd.notify()
        await wait_for(reactor, lambda: fwd.stats.failing, what="the 503 to be seen")
        assert buf.depth("cloud") == 150 and "503" in fwd.stats.last_error
        server.mode = "up"
        buf.append([tv("b/ahu-1/temp", "REJECT me", at(500))])
        fwd.notify()
        await wait_for(reactor, lambda: buf.depth("cloud") == 0, what="recovery")
        values = sorted(float(ln.split("value=")[1].split(",")[0]) for ln in server.lines if "value=" in ln)
        assert values == [float(i) for i in range(400)]
        assert buf.counter("cloud", "quarantined") == 1
        assert "REJECT" in buf.quarantined("cloud")[0]["text"]
    finally:
        await _teardown(port, sink, buf, fwd)


@pytest_twisted.ensureDeferred
async def test_a_refused_token_keeps_everything_buffered(tmp_path):
    server, port, sink, buf, fwd = await _setup(tmp_path, token="wrong")
    fwd.start()
    try:
        buf.append([tv("b/ahu-1/temp", float(i), at(i)) for i in range(10)])
        fwd.notify()
        await wait_for(reactor, lambda: fwd.stats.failures >= 2, what="repeated 401s")
        assert buf.depth("cloud") == 10 and "401" in fwd.stats.last_error and server.lines == []
    finally:
        await _teardown(port, sink, buf, fwd)
