"""Boundary meter reads for billing: batched ``value_at_many`` against the real embedded historian,
the per-path fallback for a history without it, and failures holding lines instead of guessing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest_twisted

from business.finance.meters import read_boundaries
from tagdb.historian.points import tag_rows
from tagdb.historian.sinks.embedded import EmbeddedSink
from tagdb.values import BAD_COMM_FAILURE, GOOD, UNCERTAIN_LAST_USABLE, TagValue

START = datetime(2026, 10, 31, 16, 0, tzinfo=timezone.utc)
END = datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)


class PerPathOnly:
    """The same store seen through ``value_at`` only (a history object from before the batched query)."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.calls = 0

    async def value_at(self, path, ts):
        self.calls += 1
        return await self.sink.value_at(path, ts)


class CountingBatched(PerPathOnly):
    """Counts batched calls; must never need ``value_at``."""

    def __init__(self, sink) -> None:
        super().__init__(sink)
        self.batches = 0

    async def value_at_many(self, paths, ts):
        self.batches += 1
        return await self.sink.value_at_many(paths, ts)


class FailingBatched:
    """A history whose batched query fails for the end boundary (the store went away mid-run)."""

    def __init__(self, sink) -> None:
        self.sink = sink

    async def value_at_many(self, paths, ts):
        if ts == END:
            raise ConnectionError("historian unreachable")
        return await self.sink.value_at_many(paths, ts)


def _tv(path, value, ts, q=GOOD):
    return TagValue(path, value, q, ts, ts)


@pytest_twisted.ensureDeferred
async def test_batched_reads_equal_per_path_reads_and_keep_quality(tmp_path):
    from twisted.internet import reactor

    sink = EmbeddedSink("e", tmp_path / "h.sqlite", reactor=reactor)
    try:
        rnd = random.Random(5)
        paths = [f"tower-a/meter-{i}/{'energy_kwh' if i % 2 else 'water_m3'}" for i in range(120)]
        values = []
        for path in paths[:-10]:                     # the last 10 meters never reported
            for boundary in (START, END):
                for _ in range(rnd.randint(1, 3)):
                    ts = boundary - timedelta(seconds=rnd.randint(0, 7200))
                    q = BAD_COMM_FAILURE if rnd.random() < 0.1 else (
                        UNCERTAIN_LAST_USABLE if rnd.random() < 0.1 else GOOD)
                    values.append(_tv(path, None if q is BAD_COMM_FAILURE else round(rnd.uniform(0, 9e4), 3), ts, q))
        values.append(_tv(paths[0], 4321.5, END))      # exactly at the boundary
        await sink.write_points(tag_rows(values, seq0=1))

        batched_history = CountingBatched(sink)
        batched = await read_boundaries(batched_history, paths, START, END)
        per_path_history = PerPathOnly(sink)
        per_path = await read_boundaries(per_path_history, paths, START, END)
        assert batched == per_path
        assert (batched_history.batches, batched_history.calls) == (2, 0)
        assert per_path_history.calls == 2 * len(paths)

        assert batched[paths[0]][1].value == Decimal("4321.500") and batched[paths[0]][1].ts == END
        assert all(batched[p][0].quality == "missing" and batched[p][1].quality == "missing" for p in paths[-10:])
        qualities = {r.quality for pair in batched.values() for r in pair}
        assert {"Good", "missing"} <= qualities and any(q.startswith("Bad") for q in qualities)
        assert not any(r.good for pair in batched.values() for r in pair if r.quality != "Good")
    finally:
        await sink.close()


@pytest_twisted.ensureDeferred
async def test_a_failed_batched_boundary_holds_its_readings_as_missing(tmp_path):
    from twisted.internet import reactor

    sink = EmbeddedSink("e", tmp_path / "h.sqlite", reactor=reactor)
    try:
        path = "tower-a/meter-201/energy_kwh"
        await sink.write_points(tag_rows([_tv(path, 100.0, START - timedelta(minutes=3)),
                                          _tv(path, 180.0, END - timedelta(minutes=3))], seq0=1))
        got = await read_boundaries(FailingBatched(sink), [path], START, END)
        start, end = got[path]
        assert (start.value, start.good) == (Decimal("100.000"), True)
        assert (end.value, end.quality, end.good) == (None, "missing", False)
        assert await read_boundaries(None, [path], START, END) == {path: (end, end)}
        assert await read_boundaries(FailingBatched(sink), [], START, END) == {}
    finally:
        await sink.close()
