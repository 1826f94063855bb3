"""Benchmarks of the historian (issue 4), run in a child process with its own reactor and influxd.

Figures:

* InfluxDB through the historian: points/s from the first append to the buffer
  until the sink acknowledged the last point (buffer append, SQLite read,
  line encoding, HTTP), against a raw loop posting prebuilt 5,000-line batches
  to ``/write`` in the same run. Same points, 10,000 series, gzip off for both
  (loopback); target >= 0.8 of raw.
* Embedded sink: points/s through buffer + SQLite store with rollups.
* Backfill: a 60-second outage at 10,000 points/s (the issue's 10 minutes
  scaled down 10x: 600,000 points) drained by the throttled backfill lane
  (default 50,000 points/s) while live values keep arriving at 10,000/s;
  the live lane's worst lag is reported beside it.
* Billing's boundary reads from InfluxDB: 20,000 meter paths at both ends of
  a month, ``value_at_many`` (one call per boundary) against one
  ``value_at`` per path and boundary (billing's fallback), as a ratio.
* 30-day trend over 100 tags at 1-hour resolution from the embedded rollups
  (data: one value per tag every 5 minutes for 30 days); target < 1 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = "historian"
ROUNDS = 5


def run():
    """Run the child and turn its JSON into BenchResults."""
    from tests.bench.harness import BenchResult

    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_historian", "--child"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-4000:]}")
    return [BenchResult(**r) for r in json.loads(out.stdout.strip().splitlines()[-1])]


# -- child -------------------------------------------------------------------------------------------


def _child() -> None:
    from tests.bench.harness import run_on_asyncio_reactor

    results: list[dict] = []

    async def main(reactor):
        with tempfile.TemporaryDirectory() as tmp:
            await _all(reactor, Path(tmp), results)

    # A failure propagates: the traceback goes to stderr and the child exits 1.
    run_on_asyncio_reactor(main)
    print(json.dumps(results))


def _values(n_series: int, n_points: int, t0_s: float, step_s: float):
    """Rows (without seq) for ``n_points`` spread round-robin over ``n_series`` tags."""
    from tagdb.historian.points import KIND_VALUE
    rows = []
    t0 = int(t0_s * 1e9)
    for i in range(n_points):
        s = i % n_series
        rows.append((f"bench/dev-{s // 100}/pt-{s % 100}", t0 + int((i // n_series) * step_s * 1e9) + s * 1000,
                     float(i % 1000), None, 0, KIND_VALUE))
    return rows


def _tag_values(rows):
    from tagdb.values import GOOD, TagValue, ns_to_datetime
    out = []
    for path, ts, v, _, _, _ in rows:
        t = ns_to_datetime(ts)
        out.append(TagValue(path, v, GOOD, t, t))
    return out


async def _drain(reactor, buf, name, timeout=600):
    from twisted.internet import task
    deadline = time.monotonic() + timeout
    while buf.depth(name) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not drain")
        await task.deferLater(reactor, 0.002, lambda: None)


async def _through_historian(reactor, tmp: Path, sink, rows, batch=5000) -> float:
    """Points/s from the first append to the last acknowledgement (producer and forwarder interleaved)."""
    from twisted.internet import task

    from tagdb.historian.buffer import PointBuffer
    from tagdb.historian.forwarder import SinkForwarder

    buf = PointBuffer(tmp / f"buf-{sink.name}-{time.monotonic_ns()}.sqlite", [sink.name])
    fwd = SinkForwarder(sink, buf, reactor, batch_size=batch)
    # What the tag DB hands the historian: TagValues, one batch per reactor turn (built beforehand).
    deliveries = [_tag_values(rows[i:i + batch]) for i in range(0, len(rows), batch)]
    fwd.start()
    start = time.perf_counter()
    for values in deliveries:
        buf.append(values)
        fwd.notify()
        await task.deferLater(reactor, 0, lambda: None)
    await _drain(reactor, buf, sink.name)
    elapsed = time.perf_counter() - start
    await fwd.stop()
    buf.close()
    return len(rows) / elapsed


async def _all(reactor, tmp: Path, results: list[dict]) -> None:
    from tagdb.historian.points import PointSchema
    from tagdb.historian.sinks.embedded import EmbeddedSink
    from tagdb.historian.sinks.influx_v1 import InfluxV1Sink
    from tests.historian.influxd import InfluxProcess

    def add(figure, value, unit, **kw):
        results.append({"benchmark": BENCH, "figure": figure, "value": value, "unit": unit, **kw})

    influx = InfluxProcess(tmp / "influx")
    await influx.start(reactor)
    try:
        schema = PointSchema()
        n = 100_000
        rows = _values(10_000, n, 1.7e9, 1.0)
        bodies = ["\n".join(schema.encode([(0, *r) for r in rows[i:i + 5000]], "u")).encode()
                  for i in range(0, n, 5000)]
        raw_best = hist_best = 0.0
        for rnd in range(ROUNDS):   # alternate, best of each: on a shared machine noise only slows
            raw_sink = InfluxV1Sink("raw", influx.url, f"bench_raw{rnd}", reactor=reactor, schema=schema,
                                    gzip=False)
            await raw_sink.ensure_database()
            start = time.perf_counter()
            for body in bodies:
                await raw_sink.write_body(body)
            raw_best = max(raw_best, n / (time.perf_counter() - start))
            await raw_sink.close()
            sink = InfluxV1Sink("influx", influx.url, f"bench_hist{rnd}", reactor=reactor, schema=schema,
                                gzip=False)
            await sink.ensure_database()
            hist_best = max(hist_best, await _through_historian(reactor, tmp, sink, rows))
            await sink.close()
        add("InfluxDB via historian (store-and-forward)", hist_best, "points/s", baseline=raw_best,
            target=0.8 * raw_best, note=f"baseline: raw /write loop, prebuilt 5,000-line batches; best of {ROUNDS}")
        sink = InfluxV1Sink("influx", influx.url, "bench_backfill", reactor=reactor, schema=schema, gzip=False)
        await sink.ensure_database()
        raw_rate = raw_best
        gz = InfluxV1Sink("influx-gz", influx.url, "bench_gz", reactor=reactor, schema=schema, gzip=True)
        await gz.ensure_database()
        add("InfluxDB via historian, gzip on", await _through_historian(reactor, tmp, gz, rows), "points/s",
            baseline=raw_rate, note="gzip level 1 costs CPU on loopback; pays off on real links")
        await gz.close()

        emb = EmbeddedSink("embedded", tmp / "history.sqlite", reactor=reactor)
        add("embedded sink (SQLite + rollups)", await _through_historian(reactor, tmp, emb, _values(1000, 200_000, 1.7e9, 1.0)),
            "points/s", note="1,000 series")
        await emb.close()

        await _backfill(reactor, tmp, sink, add)
        await sink.close()
        await _meter_reads(reactor, influx.url, schema, add)
    finally:
        await influx.stop(reactor)
    await _trend(reactor, tmp, add)


async def _backfill(reactor, tmp, sink, add) -> None:
    """600,000 buffered points (60 s at 10k/s), then recovery with live data at 10k/s."""
    from twisted.internet import task
    from twisted.internet.task import LoopingCall

    from tagdb.historian.buffer import PointBuffer
    from tagdb.historian.forwarder import SinkForwarder

    buf = PointBuffer(tmp / "buf-backfill.sqlite", [sink.name])
    backlog = _values(10_000, 600_000, 1.6e9, 1.0)
    for i in range(0, len(backlog), 50_000):
        buf.append_rows(backlog[i:i + 50_000])
    fwd = SinkForwarder(sink, buf, reactor)   # default backfill throttle (50,000 points/s)
    live_t = {"i": 0, "lag": 0.0}

    def live():   # 10,000 points/s in 100 ms slices
        i = live_t["i"]
        buf.append_rows(_values(1000, 1000, 1.65e9 + i * 0.1, 0.1))
        live_t["i"] = i + 1
        fwd.notify()
        tail_lo = buf.tail(sink.name)
        at = buf.appended_at(tail_lo) if buf.tail_depth(sink.name) else None
        if at is not None:
            live_t["lag"] = max(live_t["lag"], time.time() - at)

    lc = LoopingCall(live)
    lc.clock = reactor
    lc.start(0.1)
    start = time.perf_counter()
    fwd.start()
    while buf.backlog(sink.name) is not None or buf.depth(sink.name) > 20_000:
        await task.deferLater(reactor, 0.01, lambda: None)
    elapsed = time.perf_counter() - start
    lc.stop()
    await _drain(reactor, buf, sink.name)
    await fwd.stop()
    buf.close()
    add("backfill after outage (600k points, live 10k/s)", 600_000 / elapsed, "points/s",
        note=f"10-min outage scaled to 60 s; throttle 50k/s; live lag max {live_t['lag']:.2f} s")


class _PerPath:
    """A history seen through ``value_at`` only: billing's per-path fallback, the baseline."""

    def __init__(self, sink) -> None:
        self.sink = sink

    async def value_at(self, path, ts):
        return await self.sink.value_at(path, ts)


async def _meter_reads(reactor, url, schema, add, n_paths: int = 20_000) -> None:
    """Billing's boundary reads from InfluxDB: 20,000 meters at both ends of a month, batched vs per path."""
    from datetime import datetime, timedelta, timezone

    from business.finance.meters import read_boundaries
    from tagdb.historian.points import tag_rows
    from tagdb.historian.sinks.influx_v1 import InfluxV1Sink
    from tagdb.values import GOOD, TagValue

    sink = InfluxV1Sink("meters", url, "bench_meters", reactor=reactor, schema=schema, gzip=False)
    start = datetime(2026, 10, 31, 16, tzinfo=timezone.utc)
    end = datetime(2026, 11, 30, 16, tzinfo=timezone.utc)
    paths = [f"b{i % 10}/meter-{i // 2}/{'energy_kwh' if i % 2 == 0 else 'water_m3'}" for i in range(n_paths)]
    for off in range(0, n_paths, 2500):
        values = [TagValue(p, v, GOOD, ts, ts) for p in paths[off:off + 2500]
                  for ts, v in ((start - timedelta(minutes=4), 100.0), (end - timedelta(minutes=3), 180.5))]
        await sink.write_points(tag_rows(values, seq0=0))
    t = time.perf_counter()
    per_path = await read_boundaries(_PerPath(sink), paths, start, end)
    t_per_path = time.perf_counter() - t
    t_batched = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        batched = await read_boundaries(sink, paths, start, end)
        t_batched = min(t_batched, time.perf_counter() - t)
    await sink.close()
    if batched != per_path:
        raise AssertionError("batched and per-path readings differ")
    good = sum(1 for a, b in batched.values() if a.good and b.good)
    add(f"value-at for {n_paths:,} meters x 2 boundaries, batched (InfluxDB)", round(t_batched, 3), "s",
        baseline=round(t_per_path, 3), lower_is_better=True,
        note=f"baseline: one value_at per path and boundary, 16 in flight; {good} good pairs; "
             "batched: 100-path InfluxQL chunks, 2 in flight, best of 3")


async def _trend(reactor, tmp, add) -> None:
    """30 days x 100 tags every 5 minutes, then a 30-day 1-hour trend over all 100 tags."""
    from datetime import datetime, timezone

    from tagdb.historian.points import KIND_VALUE
    from tagdb.historian.sinks.embedded import EmbeddedSink

    emb = EmbeddedSink("trend", tmp / "trend.sqlite", reactor=reactor)
    t0 = 1_761_955_200  # 2025-11-01T00:00:00Z, whole hour
    paths = [f"trend/dev-{i // 10}/pt-{i % 10}" for i in range(100)]
    rows, seq = [], 0
    for k in range(30 * 24 * 12):
        ts = (t0 + k * 300) * 10**9
        for j, p in enumerate(paths):
            rows.append((seq, p, ts, float((k + j) % 97), None, 0, KIND_VALUE))
            seq += 1
            if len(rows) == 20_000:
                await emb.write_points(rows)
                rows = []
    if rows:
        await emb.write_points(rows)
    start, end = datetime.fromtimestamp(t0, timezone.utc), datetime.fromtimestamp(t0 + 30 * 86400, timezone.utc)
    best = float("inf")
    for _ in range(5):
        s = time.perf_counter()
        result = await emb.aggregate(paths, start, end, 3600)
        best = min(best, time.perf_counter() - s)
    assert all(len(v) == 720 for v in result.values())
    add("30-day trend, 100 tags, 1 h buckets (rollups)", best, "s", lower_is_better=True, target=1.0,
        note="embedded store; 864,000 raw points behind it")
    await emb.close()


if __name__ == "__main__" and "--child" in sys.argv:
    _child()
