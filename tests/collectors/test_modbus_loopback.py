"""The Modbus collector against the simulator server over loopback TCP.

Polls are scheduled on an injected ``task.Clock``: advancing it starts a scan;
the socket I/O is real, so the test then waits on a condition with a timeout.
"""

from __future__ import annotations

import logging
from types import MappingProxyType

import pytest
from twisted.internet.task import Clock

from collectors.modbus.codec import parse_address
from collectors.modbus.collector import ModbusCollector
from collectors.sim.modbus_server import ModbusSimServer, RegisterBank
from collectors.testing import aio_test, free_port, wait_until
from tagdb.database import TagDatabase
from tagdb.site.model import DeviceSpec, Scaling, SiteModel, TagSpec
from tagdb.values import WriteStatus

T0 = 1_772_352_000.0


def _site(port: int, tags: list[TagSpec], **opts) -> SiteModel:
    dev = DeviceSpec(name="plc", protocol="modbus", endpoint=f"tcp://127.0.0.1:{port}", unit_id=1, timeout=0.5,
                     retries=0, scan_groups=MappingProxyType({"default": 1.0, "fast": 0.5}),
                     options=MappingProxyType({"backoff_initial": 0.5, "backoff_max": 2.0, **opts}))
    return SiteModel(name="t", timezone="UTC", files=(), buildings=(), devices={"plc": dev}, tags=tuple(tags),
                     equipment=(), sections={})


TAGS = [
    TagSpec("p/temp", "float32", "plc", "ir:0", access="r"),
    TagSpec("p/setpoint", "float32", "plc", "hr:10", access="rw"),
    TagSpec("p/scaled", "int16", "plc", "hr:12", access="rw",
            scaling=Scaling(0, 1000, 0.0, 100.0)),
    TagSpec("p/count", "uint32", "plc", "ir:2", word_order="little"),
    TagSpec("p/big", "int64", "plc", "hr:20"),
    TagSpec("p/name", "string", "plc", "hr:30[4]"),
    TagSpec("p/bit3", "bool", "plc", "hr:40.3", access="rw"),
    TagSpec("p/run", "bool", "plc", "co:0", access="rw"),
    TagSpec("p/status", "bool", "plc", "di:5"),
]


class Rig:
    """A simulator server, a tag DB and a collector polling it on a manual clock."""

    def __init__(self, tags=TAGS, **opts) -> None:
        self.port = free_port()
        self.bank = RegisterBank(256)
        self.server = ModbusSimServer("127.0.0.1", self.port, {1: self.bank})
        self.clock = Clock()
        self.clock.advance(T0)
        self.site = _site(self.port, list(tags), **opts)
        self.db = TagDatabase(self.site.tags, self.clock)
        self.collector = ModbusCollector(self.site, self.db, self.clock)
        self.device = self.collector.devices["plc"]

    def put(self, path: str, raw) -> None:
        spec = self.site.tag(path)
        self.bank.put(parse_address(spec.address, spec.data_type), spec.data_type, raw,
                      word_order=spec.word_order or "big", byte_order=spec.byte_order or "big")

    async def scan(self) -> None:
        """Advance one period and wait for the started polls to finish."""
        polls = {n: g.polls for n, g in self.device.groups.items()}
        self.clock.advance(1.0)
        await wait_until(lambda: all(g.polls > polls[n] and g.task.done() for n, g in self.device.groups.items()),
                         what="scan finished")

    async def start(self) -> None:
        await self.server.start()
        self.collector.start()
        await wait_until(lambda: all(g.task is not None and g.task.done() for g in self.device.groups.values()),
                         what="first scan")

    async def close(self) -> None:
        self.collector.stop()
        await self.server.stop()


@pytest.fixture
def rig():
    return Rig()


@aio_test
async def test_reads_every_type_in_few_requests(rig):
    rig.put("p/temp", 21.5)
    rig.put("p/setpoint", 7.25)
    rig.put("p/scaled", 420)   # integral: tagdb shows int16 tags as ints even when scaled
    rig.put("p/count", 4_000_000_000)
    rig.put("p/big", -123_456_789_012)
    rig.put("p/name", "AHU1")
    rig.put("p/bit3", True)
    rig.put("p/run", True)
    rig.put("p/status", True)
    await rig.start()
    try:
        v = {p: rig.db.get(p) for p in rig.db.paths}
        assert all(tv.quality.is_good for tv in v.values()), {p: str(tv.quality) for p, tv in v.items()}
        assert v["p/temp"].value == 21.5
        assert v["p/setpoint"].value == 7.25
        assert v["p/scaled"].value == pytest.approx(42.0)
        assert v["p/count"].value == 4_000_000_000
        assert v["p/big"].value == -123_456_789_012
        assert v["p/name"].value == "AHU1"
        assert v["p/bit3"].value == 1 and v["p/run"].value == 1 and v["p/status"].value == 1
        # hr 10..44 is one block (gaps <= 16), ir 0..3 one, co one, di one.
        assert rig.device.request_count == 4
        total = sum(u.requests for u in rig.server.units.values())
        assert total == 4
    finally:
        await rig.close()


@aio_test
async def test_writes_encode_scale_and_reach_the_device(rig):
    await rig.start()
    try:
        assert (await rig.device.write_tag(rig.site.tag("p/setpoint"), 6.5)).ok
        assert rig.bank.get(parse_address("hr:10", "float32"), "float32") == 6.5
        r = await rig.device.write_tag(rig.site.tag("p/scaled"), 12.3)
        assert r.ok and rig.bank.hr[12] == 123
        assert (await rig.device.write_tag(rig.site.tag("p/run"), True)).ok and rig.bank.co[0]
        rig.bank.hr[40] = 0b1000_0001
        assert (await rig.device.write_tag(rig.site.tag("p/bit3"), True)).ok
        assert rig.bank.hr[40] == 0b1000_1001   # read-modify-write kept the other bits
        ro = await rig.device.write_tag(rig.site.tag("p/temp"), 1.0)
        assert ro.status is WriteStatus.READ_ONLY
        rig.server.set_exception(1, 2)
        ex = await rig.device.write_tag(rig.site.tag("p/setpoint"), 1.0)
        assert ex.status is WriteStatus.DEVICE_EXCEPTION and "02" in ex.device_status
        rig.server.set_exception(1, None)
        rig.clock.advance(0)            # the read-back poll scheduled by the write
        await wait_until(lambda: rig.db.get("p/setpoint").value == 6.5, what="read back")
    finally:
        await rig.close()


@aio_test
async def test_exception_marks_block_bad_then_recovers(rig):
    await rig.start()
    try:
        rig.server.set_exception(1, 2)
        await rig.scan()
        q = rig.db.get("p/temp").quality
        assert q.is_bad and "illegal data address" in q.detail
        rig.server.set_exception(1, None)
        await rig.scan()
        assert rig.db.get("p/temp").quality.is_good
    finally:
        await rig.close()


@aio_test
async def test_killed_device_goes_bad_then_good_after_restart(rig, caplog):
    caplog.set_level(logging.INFO, logger="collectors")
    rig.put("p/temp", 20.0)
    await rig.start()
    try:
        assert rig.db.get("p/temp").quality.is_good
        await rig.server.stop()
        await rig.scan()
        for p in rig.db.paths:
            assert rig.db.get(p).quality.name == "BadCommunicationError", p
        assert rig.db.get("p/temp").value == 20.0      # last value kept, now Bad
        errors = [r for r in caplog.records if r.levelname == "ERROR" and "unreachable" in r.getMessage()]
        await rig.scan()
        await rig.scan()
        again = [r for r in caplog.records if r.levelname == "ERROR" and "unreachable" in r.getMessage()]
        assert len(errors) == len(again) == 1             # outage logged once at ERROR
        await rig.server.start()
        for _ in range(4):                                 # backoff is at most 2 s
            await rig.scan()
        assert all(rig.db.get(p).quality.is_good for p in rig.db.paths)
        assert any(r.levelname == "INFO" and "recovered" in r.getMessage() for r in caplog.records)
    finally:
        await rig.close()


@aio_test
async def test_silent_device_goes_bad_within_two_scan_periods():
    rig = Rig(tags=[TagSpec("p/temp", "float32", "plc", "ir:0")])
    await rig.start()
    try:
        rig.server.set_silent(1)
        rig.device.link._timeout = 30.0     # longer than two periods: the scan watchdog must flag it
        rig.device.link.close()
        rig.clock.advance(1.0)              # poll starts and hangs
        await wait_until(lambda: rig.server.units[1].requests >= 2, what="request sent")
        rig.clock.advance(1.0)
        assert rig.db.get("p/temp").quality.is_good
        rig.clock.advance(1.0)              # two periods after the poll started
        assert rig.db.get("p/temp").quality.name == "BadCommunicationError"
    finally:
        await rig.close()


@aio_test
async def test_write_before_start_is_refused_without_connecting(rig):
    await rig.server.start()
    try:
        r = await rig.device.write_tag(rig.site.tag("p/setpoint"), 1.0)
        assert r.status is WriteStatus.DEVICE_UNREACHABLE and "not running" in r.message
        assert rig.server.connections == 0 and rig.server.units[1].requests == 0
        assert rig.db.get("p/setpoint").quality.name == "BadWaitingForInitialData"   # not marked down
    finally:
        await rig.close()


@aio_test
async def test_writes_overtake_queued_polls():
    """With polls queued on the shared connection, a write is sent before them."""
    import asyncio

    from collectors.modbus.link import POLL, WRITE, PriorityGate

    gate = PriorityGate()
    order = []

    async def user(name, priority, hold=0):
        await gate.acquire(priority)
        order.append(name)
        await asyncio.sleep(hold)
        gate.release()

    first = asyncio.ensure_future(user("poll-1", POLL, 0.05))
    await asyncio.sleep(0)
    polls = [asyncio.ensure_future(user(f"poll-{i}", POLL)) for i in range(2, 5)]
    await asyncio.sleep(0)
    write = asyncio.ensure_future(user("write", WRITE))
    await asyncio.gather(first, write, *polls)
    assert order == ["poll-1", "write", "poll-2", "poll-3", "poll-4"]

    # And end to end: many blocks queued by a poll, then a write.
    rig = Rig(tags=[TagSpec(f"p/t{i}", "uint16", "plc", f"hr:{i * 40}") for i in range(5)]
              + [TagSpec("p/sp", "uint16", "plc", "hr:250", access="rw")])
    seen = []
    rig.server.on_write = lambda uid, table, addr, count: seen.append(("write", rig.server.units[1].requests))
    await rig.start()
    try:
        before = rig.server.units[1].requests
        group = rig.device.groups["default"]
        poll = asyncio.ensure_future(rig.device.poll(group))      # 6 block reads queue up
        await asyncio.sleep(0)
        res = await rig.device.write_tag(rig.site.tag("p/sp"), 7)
        await poll
        assert res.ok
        # At most the read already on the wire went before the write; the other five waited.
        assert len(seen) == 1 and seen[0][1] <= before + 2
        assert rig.server.units[1].requests == before + 7
    finally:
        await rig.close()


@aio_test
async def test_block_refused_for_a_hole_in_the_map_is_split_and_read():
    rig = Rig(tags=[TagSpec("p/a", "uint16", "plc", "hr:0"), TagSpec("p/b", "uint16", "plc", "hr:10")])
    rig.bank.hr[0], rig.bank.hr[10] = 11, 22
    rig.bank.holes.add(("hr", 5))                   # the merged read 0..10 is refused
    await rig.start()
    try:
        assert len(rig.device.groups["default"].blocks) == 2       # re-planned after the refusal
        await rig.scan()
        assert rig.db.get("p/a").value == 11 and rig.db.get("p/b").value == 22
        assert rig.db.get("p/a").quality.is_good and rig.db.get("p/b").quality.is_good
    finally:
        await rig.close()


@aio_test
async def test_devices_with_only_multiple_writes_get_fc15_and_fc16():
    rig = Rig(single_writes=False)
    codes = []
    original = rig.server._handle

    def spy(uid, pdu):
        codes.append(pdu[0])
        return original(uid, pdu)
    rig.server._handle = spy
    await rig.start()
    try:
        codes.clear()
        assert (await rig.device.write_tag(rig.site.tag("p/run"), True)).ok and rig.bank.co[0]
        assert (await rig.device.write_tag(rig.site.tag("p/scaled"), 7.5)).ok and rig.bank.hr[12] == 75
        rig.bank.hr[40] = 0
        assert (await rig.device.write_tag(rig.site.tag("p/bit3"), True)).ok and rig.bank.hr[40] == 8
        assert [c for c in codes if c not in (1, 2, 3, 4)] == [15, 16, 16]
        codes.clear()
        rig.device._opts["single_writes"] = True
        assert (await rig.device.write_tag(rig.site.tag("p/run"), False)).ok and not rig.bank.co[0]
        assert (await rig.device.write_tag(rig.site.tag("p/scaled"), 1.0)).ok
        assert [c for c in codes if c not in (1, 2, 3, 4)] == [5, 6]
    finally:
        await rig.close()


@aio_test
async def test_a_silent_unit_behind_a_gateway_does_not_take_its_neighbours_down():
    port = free_port()
    bank1, bank2 = RegisterBank(64), RegisterBank(64)
    bank2.hr[0] = 42
    server = ModbusSimServer("127.0.0.1", port, {1: bank1, 2: bank2})
    clock = Clock()
    clock.advance(T0)
    devices = {n: DeviceSpec(name=n, protocol="modbus", endpoint=f"tcp://127.0.0.1:{port}", unit_id=u, timeout=0.2,
                             retries=0, scan_groups=MappingProxyType({"default": 1.0}))
               for n, u in (("u1", 1), ("u2", 2))}
    tags = (TagSpec("g/u1", "uint16", "u1", "hr:0"), TagSpec("g/u2", "uint16", "u2", "hr:0"))
    site = SiteModel(name="t", timezone="UTC", files=(), buildings=(), devices=devices, tags=tags, equipment=(),
                     sections={})
    db = TagDatabase(tags, clock)
    coll = ModbusCollector(site, db, clock)
    assert len(coll.links) == 1                       # one connection for both units
    await server.start()
    server.set_silent(1)
    coll.start()
    try:
        for _ in range(5):
            groups = [d.groups["default"] for d in coll.devices.values()]
            await wait_until(lambda: all(g.task is not None and g.task.done() for g in groups), what="scan")
            clock.advance(1.0)
        assert db.get("g/u1").quality.name == "BadCommunicationError"
        assert db.get("g/u2").quality.is_good and db.get("g/u2").value == 42
        assert server.connections == 1 and coll.links[("127.0.0.1", port)].connects == 1
    finally:
        coll.stop()
        await server.stop()


@aio_test
async def test_reconnect_backoff_doubles_up_to_the_cap_on_the_injected_clock():
    from collectors.errors import DeviceUnreachable
    from collectors.modbus.link import POLL, ModbusLink

    clock = Clock()
    clock.advance(T0)
    link = ModbusLink("127.0.0.1", free_port(), clock, timeout=0.5, backoff_initial=0.5, backoff_max=2.0)

    async def attempt():
        with pytest.raises(DeviceUnreachable) as info:
            await link.call(POLL, lambda client: client.read_holding_registers(0, count=1, device_id=1))
        return str(info.value)

    delays = []
    for _ in range(5):
        assert "cannot connect" in await attempt()       # a real attempt: refused
        delays.append(link.retry_in())
        assert "retry in" in await attempt()             # too early: no attempt at all
        clock.advance(link.retry_in())
    assert delays == [0.5, 1.0, 2.0, 2.0, 2.0]
    server = ModbusSimServer("127.0.0.1", link.port, {1: RegisterBank(8)})
    await server.start()
    try:
        rr = await link.call(POLL, lambda client: client.read_holding_registers(0, count=1, device_id=1))
        assert not rr.isError() and link.connects == 1
        link.close()
        await server.stop()
        assert "cannot connect" in await attempt()
        assert link.retry_in() == 0.5                    # success reset the backoff
    finally:
        await server.stop()
