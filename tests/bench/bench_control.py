"""Benchmark of the control engine: 1,000 PID loops at 1 s on one tag server, collectors running.

Setup (one process, one asyncio loop driving a Twisted asyncio reactor, like
the tag server): ten simulated Modbus devices in a separate process serve the
loops' process values (float32 holding registers following a random walk);
the real ``ModbusCollector`` polls them every second into the real
``TagDatabase`` (with its JSONL write audit). 1,000 loops read their PV from
one snapshot per cycle, compute, publish their state tags and write their
output through ``tags.write`` (validated, routed and audited) to an
in-process device (so the figure is the control engine and tag database, not
1,000 Modbus writes a second).

Phases: collectors alone (baseline CPU); collectors + loops with the tag
database's JSONL write audit as shipped (open, write, fsync per write, in the
reactor thread); the same with an in-memory audit sink, i.e. what a batched
audit would cost. Figures: process CPU as % of one core and the loops' share,
and the actual interval between a loop's cycles (p1/p50/p99), over every
cycle of every loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import socket
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import numpy as np

from tests.bench.harness import BenchResult

BENCH = "control"
LOOPS = 1000
DEVICES = 10
WARMUP = 5.0
BASELINE = 10.0
MEASURE = 20.0
HOST = "127.0.0.1"


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind((HOST, 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _serve(ports: list[int], per_device: int, ready, stop) -> None:
    """Simulated devices: PVs around 20 °C with a random walk, updated every 0.5 s."""
    from collectors.modbus.codec import parse_address
    from collectors.sim.modbus_server import ModbusSimServer, RegisterBank

    async def main():
        rng = np.random.default_rng(1)
        banks, servers = [], []
        for port in ports:
            bank = RegisterBank(1024)
            s = ModbusSimServer(HOST, port, {1: bank})
            await s.start()
            banks.append(bank)
            servers.append(s)
        addrs = [parse_address(f"hr:{2 * k}", "float32") for k in range(per_device)]
        pv = 20.0 + rng.normal(0, 1, (len(ports), per_device))
        ready.set()
        while not stop.is_set():
            pv += rng.normal(0, 0.05, pv.shape)
            for d, bank in enumerate(banks):
                for k, a in enumerate(addrs):
                    bank.put(a, "float32", float(pv[d, k]))
            await asyncio.sleep(0.5)
        for s in servers:
            await s.stop()

    asyncio.run(main())


class _Sink:
    """The loops' output device: accepts every write (its read-back would come with a poll)."""

    def __init__(self, db) -> None:
        self.db = db
        self.writes = 0

    async def write_tag(self, spec, value):
        from tagdb.values import WriteResult, WriteStatus

        self.writes += 1
        return WriteResult(spec.path, value, WriteStatus.OK)


def _site(ports: list[int], per_device: int):
    from tagdb.site.model import DeviceSpec, SiteModel, TagSpec

    devices, tags = {}, []
    for d, port in enumerate(ports):
        name = f"ahu-{d}"
        devices[name] = DeviceSpec(name=name, protocol="modbus", endpoint=f"tcp://{HOST}:{port}", unit_id=1,
                                   timeout=1.0, retries=0, scan_groups=MappingProxyType({"default": 1.0}))
        for k in range(per_device):
            tags.append(TagSpec(f"{name}/zone-{k}/temp", "float32", name, f"hr:{2 * k}", access="r"))
            tags.append(TagSpec(f"{name}/zone-{k}/valve", "float64", "sink", f"hr:{k}", access="rw"))
    return SiteModel(name="bench", timezone="UTC", files=(), buildings=(), devices=devices, tags=tuple(tags),
                     equipment=(), sections={})


def _section(ports: list[int], per_device: int) -> dict:
    from control.schema import SECTION
    from tagdb.site.errors import Loc

    loops = {}
    for d in range(len(ports)):
        for k in range(per_device):
            loops[f"ahu-{d}-zone-{k}"] = {
                "pv": f"ahu-{d}/zone-{k}/temp", "out": f"ahu-{d}/zone-{k}/valve", "sp": 20.0,
                "kp": 4.0, "ti": "120s", "action": "direct", "rate_limit": 5, "write_deadband": 0.01}
    clean, errors = SECTION.check({"loops": loops}, "control", Loc("bench"))
    assert not errors, errors[:3]
    return clean


def _polls(collector) -> int:
    return sum(g.polls for d in collector.devices.values() for g in d.groups.values())


def _measure(loop: asyncio.AbstractEventLoop, seconds: float) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) while the event loop runs for ``seconds``."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    loop.run_until_complete(asyncio.sleep(seconds))
    return time.process_time() - cpu0, time.perf_counter() - wall0


def run() -> list[BenchResult]:
    """Run the phases and return the figures."""
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    from collectors.modbus.collector import ModbusCollector
    from control.engine import ControlEngine
    from tagdb.audit import JsonlAuditSink, MemoryAuditSink
    from tagdb.database import TagDatabase

    per_device = LOOPS // DEVICES
    ports = _free_ports(DEVICES)
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=_serve, args=(ports, per_device, ready, stop), daemon=True)
    server.start()
    if not ready.wait(30):
        raise RuntimeError("simulated devices did not start")
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    reactor = AsyncioSelectorReactor(loop)          # a clock on this loop; not installed globally
    tmp = tempfile.TemporaryDirectory()
    try:
        site = _site(ports, per_device)
        db = TagDatabase(site.tags, reactor, audit=JsonlAuditSink(Path(tmp.name) / "writes.jsonl"))
        sink = _Sink(db)
        db.register_writer("sink", sink)
        collector = ModbusCollector(site, db, reactor)
        for name, dev in collector.devices.items():
            db.register_writer(name, dev)
        collector.start()
        _measure(loop, WARMUP)
        polls0 = _polls(collector)
        base_cpu, base_wall = _measure(loop, BASELINE)
        base_polls = (_polls(collector) - polls0) / base_wall

        engine = ControlEngine(_section(ports, per_device), db, reactor)
        for lp in engine.loops.values():
            lp.record_intervals = True
        engine.start()
        _measure(loop, WARMUP)
        phases = {}
        for label, sink_audit in (("fsync audit", None), ("memory audit", MemoryAuditSink())):
            if sink_audit is not None:
                db._audit = sink_audit      # bench only: what a batched (group-commit) audit would cost
            for lp in engine.loops.values():
                lp.state.intervals.clear()
            writes0, polls0 = sink.writes, _polls(collector)
            cpu, wall = _measure(loop, MEASURE)
            phases[label] = {
                "cpu": 100.0 * cpu / wall, "writes": (sink.writes - writes0) / wall,
                "polls": (_polls(collector) - polls0) / wall,
                "intervals": np.array([i for lp in engine.loops.values() for i in lp.state.intervals]),
                "status": sorted({lp.state.status for lp in engine.loops.values()})}
        engine.stop()
        collector.stop()
        loop.run_until_complete(asyncio.sleep(0.2))
    finally:
        stop.set()
        server.join(10)
        loop.close()
        tmp.cleanup()
    base_pct = 100.0 * base_cpu / base_wall
    results = [BenchResult(BENCH, "CPU, collectors only (10 devices, 1,000 PVs at 1 s)", base_pct, "% of a core",
                           lower_is_better=True, note=f"{base_polls:.1f} polls/s")]
    for label, ph in phases.items():
        iv = ph["intervals"]
        p1, p50, p99 = np.percentile(iv, [1, 50, 99])
        note = (f"{len(iv)} cycles, {ph['writes']:.0f} writes/s, {ph['polls']:.1f} polls/s, "
                f"status {ph['status']}, load {os.getloadavg()[0]:.1f}")
        results += [
            BenchResult(BENCH, f"CPU, collectors + 1,000 loops ({label})", ph["cpu"], "% of a core",
                        baseline=base_pct, lower_is_better=True, note=note),
            BenchResult(BENCH, f"CPU share of the loops ({label})", ph["cpu"] - base_pct, "% of a core",
                        lower_is_better=True),
            BenchResult(BENCH, f"loop interval p50 ({label})", float(p50), "s"),
            BenchResult(BENCH, f"loop interval p99 ({label})", float(p99), "s"),
            BenchResult(BENCH, f"loop interval p1 ({label})", float(p1), "s",
                        note="a late cycle is followed by a short one (fixed-rate schedule)"),
        ]
    return results

if __name__ == "__main__":
    for r in run():
        print(f"{r.figure:55s} {r.value:10.3f} {r.unit}  {r.note}")
