"""Embedded store retention: each level expires on its own horizon; value_at falls back to rollups."""

from __future__ import annotations

import pytest_twisted
from twisted.internet import reactor

from tagdb.historian.sinks.embedded import EmbeddedSink
from tagdb.values import datetime_to_ns

from .helpers import T0, at, rows, tv


@pytest_twisted.ensureDeferred
async def test_prune_expires_raw_before_rollups(tmp_path):
    sink = EmbeddedSink("e", tmp_path / "h.sqlite", reactor=reactor,
                        retention={"raw": 3600, "minute": 86400, "hour": 30 * 86400})
    try:
        path = "site/meter-1/energy_kwh"
        await sink.write_points(rows([tv(path, 100.0 + i, at(i * 60)) for i in range(10)]))
        now = datetime_to_ns(at(2 * 3600))            # raw (1 h) has expired, minutes (1 d) have not
        deleted = await sink.prune(now)
        assert deleted["raw"] == 10 and deleted["minute"] == 0
        assert (await sink.raw([path], T0, at(3600)))[path] == []
        reading = await sink.value_at(path, at(300))  # from the r1m rollup's last value
        assert (reading.ts, reading.value) == (at(300), 105.0)
        agg = await sink.aggregate([path], T0, at(3600), 3600)
        assert [(b.count, b.min, b.max, b.last) for b in agg[path]] == [(10, 100.0, 109.0, 109.0)]
        deleted = await sink.prune(datetime_to_ns(at(40 * 86400)))
        assert deleted["minute"] == 10 and deleted["hour"] == 1
        assert await sink.value_at(path, at(300)) is None
    finally:
        await sink.close()
