"""Contract: write, read back raw and aggregated, quality kept, timestamps exact, rollups correct.

Every test runs against the embedded SQLite store and the real InfluxDB
(started by scripts/test) through the same HistoryQuery API.
"""

from __future__ import annotations

import math
import random
import pytest
import pytest_twisted

from tagdb.contracts import HistoryEvent
from tagdb.historian.errors import SinkRejected
from tagdb.historian.points import event_row
from tagdb.values import BAD_COMM_FAILURE, GOOD, UNCERTAIN_LAST_USABLE, datetime_to_ns

from ..helpers import T0, at, rows, tv


def _expected(values, start, step, end):
    """Aggregates per epoch-aligned bucket over non-Bad numeric values, computed the obvious way."""
    out = {}
    for v in values:
        if v.quality.is_bad or not isinstance(v.value, (int, float)) or not (start <= v.source_ts < end):
            continue
        t = v.source_ts.timestamp()
        b = math.floor(t / step) * step
        out.setdefault(b, []).append((v.source_ts, float(v.value)))
    result = {}
    for b, items in out.items():
        vals = [x for _, x in items]
        result[b] = {"min": min(vals), "max": max(vals), "mean": sum(vals) / len(vals),
                     "last": max(items)[1], "count": len(vals)}
    return result


def _check_buckets(buckets, expected):
    got = {b.start.timestamp(): b for b in buckets}
    assert sorted(got) == sorted(expected)
    for key, exp in expected.items():
        b = got[key]
        assert b.count == exp["count"]
        assert b.min == pytest.approx(exp["min"])
        assert b.max == pytest.approx(exp["max"])
        assert b.mean == pytest.approx(exp["mean"], rel=1e-9)
        assert b.last == pytest.approx(exp["last"])


@pytest_twisted.ensureDeferred
async def test_raw_values_quality_and_timestamps_come_back_exactly(store):
    values = [
        tv("b1/chiller-1/supply_temp", 6.25, at(0.000001)),
        tv("b1/chiller-1/supply_temp", 6.5, at(1.5), UNCERTAIN_LAST_USABLE),
        tv("b1/chiller-1/supply_temp", None, at(2.123457), BAD_COMM_FAILURE),
        tv("b1/chiller-1/supply_temp", -1e-05, at(3.999999)),
        tv("b1/chiller-1/running", True, at(0.25)),
        tv("b1/chiller-1/running", False, at(7)),
        tv("b1/chiller-1/mode", "auto, \"eco\" mode\\x", at(0.5)),
        tv("b1/meter-1/energy_kwh", 123456789, at(1)),
    ]
    await store.write_points(rows(values))
    got = await store.raw(["b1/chiller-1/supply_temp", "b1/chiller-1/running", "b1/chiller-1/mode",
                           "b1/meter-1/energy_kwh", "b1/unknown"], T0, at(10))
    temp = got["b1/chiller-1/supply_temp"]
    assert [p.ts for p in temp] == [at(0.000001), at(1.5), at(2.123457), at(3.999999)]
    assert [p.value for p in temp] == [6.25, 6.5, None, -1e-05]
    assert [p.quality.code for p in temp] == [GOOD.code, UNCERTAIN_LAST_USABLE.code, BAD_COMM_FAILURE.code,
                                              GOOD.code]
    assert [(p.ts, p.value) for p in got["b1/chiller-1/running"]] == [(at(0.25), 1.0), (at(7), 0.0)]
    assert [p.value for p in got["b1/chiller-1/mode"]] == ["auto, \"eco\" mode\\x"]
    assert got["b1/meter-1/energy_kwh"][0].value == 123456789
    assert got["b1/unknown"] == []
    limited = await store.raw(["b1/chiller-1/supply_temp"], at(1), at(10), limit=2)
    assert [p.ts for p in limited["b1/chiller-1/supply_temp"]] == [at(1.5), at(2.123457)]


@pytest_twisted.ensureDeferred
async def test_rewriting_the_same_points_creates_no_duplicates(store):
    values = [tv("b1/ahu-1/fan_speed", float(i), at(i)) for i in range(50)]
    await store.write_points(rows(values))
    await store.write_points(rows(values[10:30]))   # a replay after a crash
    got = await store.raw(["b1/ahu-1/fan_speed"], T0, at(100))
    assert [p.value for p in got["b1/ahu-1/fan_speed"]] == [float(i) for i in range(50)]
    agg = await store.aggregate(["b1/ahu-1/fan_speed"], T0, at(100), 3600, ["count"])
    assert [b.count for b in agg["b1/ahu-1/fan_speed"]] == [50]


@pytest_twisted.ensureDeferred
async def test_aggregates_per_interval_skip_bad_values(store):
    rnd = random.Random(4)
    path = "b1/meter-2/power_kw"
    values = []
    for i in range(600):  # 10 minutes, one value a second with jitter
        q = BAD_COMM_FAILURE if rnd.random() < 0.1 else (UNCERTAIN_LAST_USABLE if rnd.random() < 0.1 else GOOD)
        values.append(tv(path, round(rnd.uniform(10, 90), 3), at(i + rnd.randint(0, 999_999) / 1e6), q))
    await store.write_points(rows(values))
    for step in (60, 10, 7.5):
        start, end = at(0), at(600)
        got = await store.aggregate([path], start, end, step)
        _check_buckets(got[path], _expected(values, start, step, end))
    # Only the asked-for aggregates are filled in.
    got = await store.aggregate([path], at(0), at(600), 60, ["max", "count"])
    assert got[path][0].min is None and got[path][0].max is not None and got[path][0].count > 0


@pytest_twisted.ensureDeferred
async def test_long_range_aggregates_match_raw_data_with_ragged_edges(store):
    """Hours and minutes over 5 hours: the embedded store answers from its rollups here."""
    rnd = random.Random(7)
    paths = ["b2/lighting-1/power_w", "b2/lighting-2/power_w"]
    values = []
    for path in paths:
        for i in range(0, 5 * 3600, 15):
            q = BAD_COMM_FAILURE if rnd.random() < 0.05 else GOOD
            values.append(tv(path, rnd.uniform(0, 500), at(i + rnd.random() * 10), q))
    for i in range(0, len(values), 2000):
        await store.write_points(rows(values[i:i + 2000], seq0=i + 1))
    # Ragged edges (rollups for the middle, raw for the edges) and whole hours (rollup rows as they are).
    for start, end in ((at(1234.5), at(5 * 3600 - 777)), (at(0), at(5 * 3600))):
        for step in (3600, 600, 60):
            got = await store.aggregate(paths, start, end, step)
            for path in paths:
                _check_buckets(got[path], _expected([v for v in values if v.path == path], start, step, end))


@pytest_twisted.ensureDeferred
async def test_late_data_updates_the_aggregates(store):
    path = "b1/elevator-1/load_kg"
    await store.write_points(rows([tv(path, 100.0, at(10)), tv(path, 300.0, at(3700))]))
    await store.write_points(rows([tv(path, 900.0, at(20)), tv(path, 50.0, at(30))], seq0=10))
    got = await store.aggregate([path], T0, at(7200), 3600)
    first, second = got[path]
    assert (first.min, first.max, first.last, first.count) == (50.0, 900.0, 50.0, 3)
    assert first.mean == pytest.approx(350.0)
    assert (second.start, second.last, second.count) == (at(3600), 300.0, 1)


@pytest_twisted.ensureDeferred
async def test_value_at_returns_the_reading_at_a_boundary(store):
    path = "b1/meter-1/energy_kwh"
    await store.write_points(rows([tv(path, 1000.5, at(100)), tv(path, 1010.25, at(200), UNCERTAIN_LAST_USABLE),
                                   tv(path, 1020.0, at(300))]))
    assert await store.value_at(path, at(99)) is None
    exact = await store.value_at(path, at(200))
    assert (exact.ts, exact.value, exact.quality.code) == (at(200), 1010.25, UNCERTAIN_LAST_USABLE.code)
    between = await store.value_at(path, at(299.999999))
    assert (between.ts, between.value) == (at(200), 1010.25)
    assert (await store.value_at(path, at(10_000))).value == 1020.0
    assert await store.value_at("b1/meter-9/nothing", at(10_000)) is None


@pytest_twisted.ensureDeferred
async def test_events_are_stored_for_annotations(store):
    ev1 = HistoryEvent(ts=at(5), source="b1/chiller-1/supply_temp", state="active", message="Supply temp high",
                       priority=2, value=12.5)
    ev2 = HistoryEvent(ts=at(65), source="b1/chiller-1/supply_temp", state="cleared", message="back to normal",
                       priority=2, user="operator")
    await store.write_points([(1, *event_row(ev1)), (2, *event_row(ev2))])
    got = await store.events(T0, at(3600))
    assert [(e.ts, e.source, e.state, e.message, e.priority) for e in got] == [
        (at(5), "b1/chiller-1/supply_temp", "active", "Supply temp high", 2),
        (at(65), "b1/chiller-1/supply_temp", "cleared", "back to normal", 2)]
    assert got[0].value == 12.5 and got[1].user == "operator"
    assert await store.events(T0, at(3600), ["other/tag"]) == []


@pytest_twisted.ensureDeferred
async def test_a_malformed_point_is_refused_as_rejected(store):
    # A NaN row cannot come out of the buffer (non-finite values are kept as text there),
    # but a sink must still refuse one rather than store garbage.
    with pytest.raises(SinkRejected):
        await store.write_points([(1, "b1/ahu-1/temp", datetime_to_ns(at(1)), float("nan"), None, 0, 0)])
    await store.write_points(rows([tv("b1/ahu-1/temp", 21.0, at(1))]))
    got = await store.raw(["b1/ahu-1/temp"], T0, at(2))
    assert [p.value for p in got["b1/ahu-1/temp"]] == [21.0]



@pytest_twisted.ensureDeferred
async def test_an_empty_store_answers_with_empty_history(store):
    path = "b1/meter-1/energy_kwh"
    assert await store.raw([path], T0, at(60)) == {path: []}
    assert await store.aggregate([path], T0, at(3600), 60) == {path: []}
    assert await store.value_at(path, at(60)) is None
    assert await store.value_at_many([path, "_system/x"], at(60)) == {path: None, "_system/x": None}
    assert await store.events(T0, at(60)) == []


@pytest_twisted.ensureDeferred
async def test_value_at_many_reads_every_tag_at_one_instant(store):
    meter, water, status = "b1/meter-1/energy_kwh", "b1/meter-1/water_m3", "b1/meter-1/status"
    failed, system = "b1/meter-2/energy_kwh", "_system/historian/buffer/points"
    odd = "b1/meter-3/o'brien \"east\", wing=2"   # quotes, comma, space and '=' in one InfluxQL literal
    await store.write_points(rows([
        tv(meter, 1000.5, at(100)), tv(meter, 1010.25, at(200), UNCERTAIN_LAST_USABLE), tv(meter, 1020.0, at(300)),
        tv(water, 55.125, at(150)),
        tv(status, "ok", at(120)), tv(status, "door open", at(250)),
        tv(failed, 400.0, at(100)), tv(failed, None, at(180), BAD_COMM_FAILURE),
        tv(system, 12.0, at(50)),
        tv(odd, 7.0, at(199)),
    ]))
    asked = [meter, water, status, failed, system, odd, "b1/meter-9/nothing", meter]
    got = await store.value_at_many(asked, at(200))
    assert list(got) == [meter, water, status, failed, system, odd, "b1/meter-9/nothing"]   # one key per path, in order
    # A point exactly at ts is the answer, with its own timestamp and quality.
    assert (got[meter].path, got[meter].ts, got[meter].value, got[meter].quality.code) == (
        meter, at(200), 1010.25, UNCERTAIN_LAST_USABLE.code)
    assert (got[water].ts, got[water].value, got[water].quality.code) == (at(150), 55.125, GOOD.code)
    assert (got[status].ts, got[status].value) == (at(120), "ok")
    # A Bad last point is returned as it is (no value, Bad quality), not skipped for the older Good one.
    assert (got[failed].ts, got[failed].value, got[failed].quality.code) == (at(180), None, BAD_COMM_FAILURE.code)
    assert (got[system].ts, got[system].value) == (at(50), 12.0)
    assert (got[odd].path, got[odd].value) == (odd, 7.0)
    assert got["b1/meter-9/nothing"] is None
    before = await store.value_at_many([meter, water, "b1/meter-9/nothing"], at(99.999999))
    assert before == {meter: None, water: None, "b1/meter-9/nothing": None}
    later = await store.value_at_many([meter, status], at(10_000))
    assert (later[meter].value, later[status].value) == (1020.0, "door open")
    assert await store.value_at_many([], at(200)) == {}


@pytest_twisted.ensureDeferred
async def test_value_at_many_equals_value_at_per_path_on_random_data(store):
    """Seeded random histories over more paths than one InfluxDB chunk holds, read at random instants."""
    rnd = random.Random(11)
    paths = [f"b{i % 3}/meter-{i}/{'energy_kwh' if i % 2 else 'water_m3'}" for i in range(230)]
    paths += [f"_system/bench/pt-{i}" for i in range(5)]        # a second measurement
    values = []
    times = set()
    for path in paths[:-20]:                                    # the last 20 paths never get data
        for _ in range(rnd.randint(1, 6)):
            t = rnd.randint(0, 3600 * 10**6) / 1e6
            times.add(t)
            r = rnd.random()
            if r < 0.15:
                values.append(tv(path, None, at(t), BAD_COMM_FAILURE))
            elif r < 0.25:
                values.append(tv(path, rnd.choice(["ok", "fault"]), at(t)))
            else:
                values.append(tv(path, round(rnd.uniform(0, 1e6), 3), at(t),
                                 UNCERTAIN_LAST_USABLE if rnd.random() < 0.1 else GOOD))
    await store.write_points(rows(values))
    instants = [at(0), at(1800), at(3601)] + [at(t) for t in rnd.sample(sorted(times), 3)]   # incl. exact hits
    for ts in instants:
        many = await store.value_at_many(paths, ts)
        assert list(many) == paths
        for path in paths:
            one = await store.value_at(path, ts)
            assert many[path] == one, (path, ts)
        if ts == at(3601):   # after every point: exactly the paths with data have a reading
            assert [p for p in paths if many[p] is None] == paths[-20:]
