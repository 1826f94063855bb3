"""Benchmark of the Modbus collector: registers/s into the tag DB vs a raw pymodbus loop.

Simulated devices (the collectors' own simulator server, 1000 holding registers
of varied content) run in a separate process, so the figures measure the
client side, which is what the collector is. Each device has 4 blocks of 125
registers holding 75 tags each (float32, scaled int16, uint32): 300 tags a device.

Per configuration (1 device, 10 devices) the same run measures:
- raw: an ``AsyncModbusTcpClient`` per device reading the same 125-register
  blocks in a loop (nothing decoded);
- collector: ``ModbusDevice.poll`` in a loop, i.e. planning done, every block
  read through the shared link, decoded (vectorized, scaled) and ingested
  into a TagDatabase holding every tag.

The raw loop uses stock pymodbus throughout. The collector's clients decode
register responses with ``collectors.modbus.responses`` (registered through
``client.register``): one struct call per response and no eager debug string,
which pays for most of the decoding and tag DB work the collector adds.

Target (issue 3): collector >= 0.8 of raw. CPU seconds per 10,000 values are
process CPU time (client process) divided by tag values delivered.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import time
from types import MappingProxyType

from tests.bench.harness import BenchResult

BENCH = "modbus"
DURATION = 1.5
ROUNDS = 5
BLOCKS = 4
HOST = "127.0.0.1"


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind((HOST, 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _serve(ports: list[int], ready, stop) -> None:
    import numpy as np

    from collectors.sim.modbus_server import ModbusSimServer, RegisterBank

    async def main():
        servers = []
        for i, port in enumerate(ports):
            bank = RegisterBank(1024)
            bank.hr[:] = np.random.default_rng(i).integers(0, 65535, 1024, dtype=np.uint16)
            s = ModbusSimServer(HOST, port, {1: bank})
            await s.start()
            servers.append(s)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for s in servers:
            await s.stop()

    asyncio.run(main())


def _tags(dev: str):
    from tagdb.site.model import Scaling, TagSpec

    tags = []
    for b in range(BLOCKS):
        base = b * 125
        off = base
        for k in range(25):
            tags.append(TagSpec(f"{dev}/b{b}/f{k}", "float32", dev, f"hr:{off}"))
            off += 2
        for k in range(25):
            tags.append(TagSpec(f"{dev}/b{b}/s{k}", "int16", dev, f"hr:{off}", scaling=Scaling(0, 10, 0, 1)))
            off += 1
        for k in range(25):
            tags.append(TagSpec(f"{dev}/b{b}/u{k}", "uint32", dev, f"hr:{off}"))
            off += 2
        assert off - base == 125
    return tags


def _site(ports: list[int]):
    from tagdb.site.model import DeviceSpec, SiteModel

    devices, tags = {}, []
    for i, port in enumerate(ports):
        name = f"dev{i}"
        devices[name] = DeviceSpec(name=name, protocol="modbus", endpoint=f"tcp://{HOST}:{port}", timeout=3.0,
                                   options=MappingProxyType({"max_gap": 0}))
        tags += _tags(name)
    return SiteModel(name="bench", timezone="UTC", files=(), buildings=(), devices=devices, tags=tuple(tags),
                     equipment=(), sections={})


async def _raw(ports: list[int]) -> tuple[int, float, float]:
    from pymodbus.client import AsyncModbusTcpClient

    clients = [AsyncModbusTcpClient(HOST, port=p, timeout=3, retries=0, reconnect_delay=0) for p in ports]
    for c in clients:
        await c.connect()
    requests = 0
    stop_at = 0.0

    async def loop(c):
        nonlocal requests
        b = 0
        while time.perf_counter() < stop_at:
            rr = await c.read_holding_registers(b * 125, count=125, device_id=1)
            assert not rr.isError() and len(rr.registers) == 125
            requests += 1
            b = (b + 1) % BLOCKS

    stop_at = time.perf_counter() + 0.5          # warm-up
    await asyncio.gather(*(loop(c) for c in clients))
    requests = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    stop_at = t0 + DURATION
    await asyncio.gather(*(loop(c) for c in clients))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for c in clients:
        c.close()
    return requests, elapsed, cpu


async def _collector(ports: list[int]) -> tuple[int, int, float, float]:
    from twisted.internet.task import Clock

    from collectors.modbus.collector import ModbusCollector
    from tagdb.database import TagDatabase

    site = _site(ports)
    clock = Clock()
    clock.advance(time.time())
    db = TagDatabase(site.tags, clock)
    coll = ModbusCollector(site, db, clock)
    devices = list(coll.devices.values())
    for d in devices:
        assert d.request_count == BLOCKS, d.request_count
    stop_at = 0.0
    polls = 0

    async def loop(d):
        nonlocal polls
        group = d.groups["default"]
        while time.perf_counter() < stop_at:
            await d.poll(group)
            polls += 1
        assert not d.is_down

    stop_at = time.perf_counter() + 0.5
    await asyncio.gather(*(loop(d) for d in devices))
    polls = 0
    updates0 = db.stats.updates
    cpu0, t0 = time.process_time(), time.perf_counter()
    stop_at = t0 + DURATION
    await asyncio.gather(*(loop(d) for d in devices))
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    values = db.stats.updates - updates0
    assert all(db.get(t.path).quality.is_good for t in site.tags[:50])
    coll.stop()
    return polls * BLOCKS, values, elapsed, cpu


def _measure(n: int) -> list[BenchResult]:
    ports = _free_ports(n)
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(ports, ready, stop), daemon=True)
    proc.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("simulator process did not start")
        loop = asyncio.new_event_loop()
        try:
            # Short raw/collector windows back to back, several rounds: on a shared machine
            # the load drifts, and a pair measured together sees the same load. The round
            # with the median ratio is reported.
            pairs = []
            for _ in range(ROUNDS):
                r = loop.run_until_complete(_raw(ports))
                c = loop.run_until_complete(_collector(ports))
                pairs.append(((c[0] / c[2]) / (r[0] / r[1]), r, c))
            pairs.sort(key=lambda p: p[0])
            _, raw_best, coll_best = pairs[len(pairs) // 2]
        finally:
            loop.close()
    finally:
        stop.set()
        proc.join(10)
        if proc.is_alive():
            proc.kill()
    raw_req, raw_t, raw_cpu = raw_best
    coll_req, values, coll_t, coll_cpu = coll_best
    raw_regs = raw_req * 125 / raw_t
    coll_regs = coll_req * 125 / coll_t
    tags_per_req = 75
    raw_values = raw_req * tags_per_req          # the same tag values, had they been decoded
    label = f"{n} device{'s' if n > 1 else ''}"
    return [
        BenchResult(BENCH, f"registers/s, {label}", coll_regs, "reg/s", baseline=raw_regs, target=0.8 * raw_regs,
                    note="collector (decoded, in tag DB) vs raw pymodbus loop; target 0.8x raw"),
        BenchResult(BENCH, f"tag values/s, {label}", values / coll_t, "values/s",
                    note=f"{tags_per_req} tags per 125-register block"),
        BenchResult(BENCH, f"CPU s per 10k values, {label}", coll_cpu / max(values, 1) * 10_000, "cpu-s",
                    baseline=raw_cpu / max(raw_values, 1) * 10_000, lower_is_better=True,
                    note="client process; baseline = raw loop per equivalent values (no decoding)"),
    ]


def run() -> list[BenchResult]:
    """Measure 1 and 10 simulated devices."""
    return _measure(1) + _measure(10)
