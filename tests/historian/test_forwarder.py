"""The forwarder: acknowledgement only after the sink stored, backfill beside live data, quarantine."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor

from tagdb.historian.buffer import PointBuffer
from tagdb.historian.errors import SinkRejected, SinkUnavailable
from tagdb.historian.forwarder import SinkForwarder

from .helpers import at, tv, wait_for


class ControlledSink:
    """A sink that can be switched off and that refuses (400) chosen values."""

    def __init__(self, name: str = "ctl") -> None:
        self.name = name
        self.up = True
        self.stored: dict[tuple[str, int], float] = {}
        self.writes = 0
        self.arrivals: list[tuple[float, int]] = []   # (reactor time, seq) of each stored row
        self.refuse = set()

    async def write_points(self, rows):
        self.writes += 1
        if not self.up:
            raise SinkUnavailable("connection refused")
        if any(r[3] in self.refuse for r in rows):
            raise SinkRejected("400: unable to parse")
        now = reactor.seconds()
        for r in rows:
            self.stored[(r[1], r[2])] = r[3]
            self.arrivals.append((now, r[0]))


def _setup(tmp_path, **kw):
    sink = ControlledSink()
    buf = PointBuffer(tmp_path / "buf.sqlite", [sink.name])
    fwd = SinkForwarder(sink, buf, reactor, retry_min=0.01, retry_max=0.05, **kw)
    return sink, buf, fwd


def _append(buf, fwd, start, n, path="t/x"):
    buf.append([tv(path, float(i), at(i)) for i in range(start, start + n)])
    fwd.notify()


@pytest_twisted.ensureDeferred
async def test_points_stay_buffered_while_the_sink_is_down_and_arrive_once_after(tmp_path):
    sink, buf, fwd = _setup(tmp_path, batch_size=100)
    fwd.start()
    try:
        _append(buf, fwd, 0, 250)
        await wait_for(reactor, lambda: buf.depth("ctl") == 0, what="first delivery")
        sink.up = False
        _append(buf, fwd, 250, 250)
        await wait_for(reactor, lambda: fwd.stats.failing, what="the failure to be seen")
        assert buf.depth("ctl") == 250 and "connection refused" in fwd.stats.last_error
        sink.up = True
        await wait_for(reactor, lambda: buf.depth("ctl") == 0, what="catch-up")
        assert sorted(v for v in sink.stored.values()) == [float(i) for i in range(500)]
        assert not fwd.stats.failing and fwd.stats.written == 500
        assert buf.trim() == 500
    finally:
        await fwd.stop()


@pytest_twisted.ensureDeferred
async def test_backlog_is_throttled_and_live_values_are_not_queued_behind_it(tmp_path):
    sink, buf, fwd = _setup(tmp_path, batch_size=500, backfill_rate=5000)
    sink.up = False
    fwd.start()
    try:
        _append(buf, fwd, 0, 10_000)          # the backlog of an outage: 2 s of work at 5,000/s
        await wait_for(reactor, lambda: fwd.stats.failing, what="the outage")
        sink.up = True
        await wait_for(reactor, lambda: buf.backlog("ctl") is not None, what="the backlog split")
        t_live = reactor.seconds()
        _append(buf, fwd, 10_000, 10)         # live values during the backfill
        live = set(range(10_001, 10_011))
        await wait_for(reactor, lambda: live <= {seq for _, seq in sink.arrivals}, what="live values")
        live_arrival = max(t for t, seq in sink.arrivals if seq > 10_000)
        assert live_arrival - t_live < 0.5, "live values waited behind the backlog"
        assert buf.depth("ctl") > 0, "the backlog should still be draining (throttled)"
        await wait_for(reactor, lambda: buf.depth("ctl") == 0, timeout=30, what="backfill")
        backfilled = [t for t, seq in sink.arrivals if seq <= 10_000]
        span = max(backfilled) - min(backfilled)
        assert span >= 1.0, f"10,000 points at 5,000/s took only {span:.2f} s: not throttled"
        assert len(sink.stored) == 10_010 and fwd.stats.backfilled > 0
    finally:
        await fwd.stop()


@pytest_twisted.ensureDeferred
async def test_a_refused_point_is_quarantined_and_the_rest_flows(tmp_path):
    sink, buf, fwd = _setup(tmp_path, batch_size=1000)
    sink.refuse = {123.0, 777.0}
    fwd.start()
    try:
        _append(buf, fwd, 0, 1000)
        await wait_for(reactor, lambda: buf.depth("ctl") == 0, what="the queue to drain")
        assert len(sink.stored) == 998 and 123.0 not in sink.stored.values()
        assert buf.counter("ctl", "quarantined") == 2
        assert sorted(q["value"] for q in buf.quarantined("ctl")) == [123.0, 777.0]
        assert sink.writes < 60   # bisection, not one request per point
        _append(buf, fwd, 1000, 10)
        await wait_for(reactor, lambda: len(sink.stored) == 1008, what="later values")
    finally:
        await fwd.stop()


@pytest_twisted.ensureDeferred
async def test_an_outage_during_backfill_without_live_traffic_still_recovers(tmp_path):
    sink, buf, fwd = _setup(tmp_path, batch_size=500, backfill_rate=20_000)
    sink.up = False
    fwd.start()
    try:
        _append(buf, fwd, 0, 5000)
        await wait_for(reactor, lambda: fwd.stats.failing, what="the outage")
        sink.up = True
        await wait_for(reactor, lambda: buf.backlog("ctl") is not None, what="the backlog split")
        sink.up = False                      # down again mid-backfill; no live values arrive
        await wait_for(reactor, lambda: fwd.stats.failing, what="the second outage")
        sink.up = True
        await wait_for(reactor, lambda: buf.depth("ctl") == 0, what="the backlog to drain after recovery")
        assert sorted(sink.stored.values()) == [float(i) for i in range(5000)]
    finally:
        await fwd.stop()
