"""Malformed and truncated Modbus frames from a raw asyncio test server never crash the collector.

After every kind of bad answer the poll finishes, the tags are Bad (never a
wrong value marked Good), and once the server answers properly again the
collector recovers to Good by itself.
"""

from __future__ import annotations

import asyncio
import struct
from types import MappingProxyType

import pytest
from twisted.internet.task import Clock

from collectors.modbus.collector import ModbusCollector
from collectors.testing import aio_test, free_port, wait_until
from tagdb.database import TagDatabase
from tagdb.site.model import DeviceSpec, SiteModel, TagSpec

GOOD_REGS = [0x41A4, 0x0000, 7, 8]     # float32 20.5 then two uint16


def _answer(mode: str, tid: int, uid: int, pdu: bytes) -> bytes | None:
    fc, start, count = pdu[0], *struct.unpack(">HH", pdu[1:5])
    regs = (GOOD_REGS * 40)[:count]
    body = bytes((fc, 2 * count)) + struct.pack(f">{count}H", *regs)
    frame = struct.pack(">HHHB", tid, 0, len(body) + 1, uid) + body
    if mode == "good":
        return frame
    if mode == "truncated":
        return frame[: len(frame) // 2]               # then the connection closes
    if mode == "garbage":
        return bytes(range(256))[: 40]
    if mode == "short_count":                          # a valid frame with fewer registers than asked
        body = bytes((fc, 2)) + struct.pack(">H", 1)
        return struct.pack(">HHHB", tid, 0, len(body) + 1, uid) + body
    if mode == "byte_count_lies":                      # byte count says more than the frame carries
        body = bytes((fc, 200)) + struct.pack(">H", 1)
        return struct.pack(">HHHB", tid, 0, len(body) + 1, uid) + body
    if mode == "odd_byte_count":                       # half a register at the end
        body = bytes((fc, 2 * count - 1)) + struct.pack(f">{count}H", *regs)[:-1]
        return struct.pack(">HHHB", tid, 0, len(body) + 1, uid) + body
    if mode == "wrong_tid":
        return struct.pack(">HHHB", (tid + 7) & 0xFFFF, 0, len(body) + 1, uid) + body
    if mode == "wrong_function":
        body = bytes((fc + 1 if fc < 4 else 1, 2 * count)) + struct.pack(f">{count}H", *regs)
        return struct.pack(">HHHB", tid, 0, len(body) + 1, uid) + body
    if mode == "huge_length":
        return struct.pack(">HHHB", tid, 0, 60000, uid) + body
    if mode == "bad_exception_code":
        return struct.pack(">HHHB", tid, 0, 3, uid) + bytes((fc | 0x80, 0xEE))
    raise AssertionError(mode)


class RawServer(asyncio.Protocol):
    """Answers each request according to ``mode``; closes after truncated frames."""

    mode = "good"

    def connection_made(self, transport):
        self.transport = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while len(self.buf) >= 12:
            tid, _, length, uid = struct.unpack(">HHHB", self.buf[:7])
            pdu, self.buf = self.buf[7:6 + length], self.buf[6 + length:]
            reply = _answer(RawServer.mode, tid, uid, pdu)
            if reply:
                self.transport.write(reply)
            if RawServer.mode == "truncated":
                self.transport.close()
                return


MODES = ["truncated", "garbage", "short_count", "byte_count_lies", "odd_byte_count", "wrong_tid", "wrong_function",
         "huge_length", "bad_exception_code"]


@pytest.mark.parametrize("mode", MODES)
@aio_test
async def test_bad_frames_mark_bad_and_recover(mode):
    port = free_port()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(RawServer, "127.0.0.1", port)
    clock = Clock()
    clock.advance(1_772_352_000)
    dev = DeviceSpec(name="raw", protocol="modbus", endpoint=f"tcp://127.0.0.1:{port}", timeout=0.3, retries=0,
                     scan_groups=MappingProxyType({"default": 1.0}),
                     options=MappingProxyType({"backoff_initial": 0.1, "backoff_max": 0.1}))
    tags = (TagSpec("r/temp", "float32", "raw", "hr:0"), TagSpec("r/a", "uint16", "raw", "hr:2"),
            TagSpec("r/b", "uint16", "raw", "hr:3"))
    site = SiteModel(name="t", timezone="UTC", files=(), buildings=(), devices={"raw": dev}, tags=tags,
                     equipment=(), sections={})
    db = TagDatabase(tags, clock)
    coll = ModbusCollector(site, db, clock)
    device = coll.devices["raw"]
    group = device.groups["default"]

    async def scan():
        before = group.polls
        clock.advance(1.0)
        await wait_until(lambda: group.polls > before and group.task.done(), timeout=10, what="scan")
        assert group.task.exception() is None

    try:
        RawServer.mode = "good"
        coll.start()
        await wait_until(lambda: group.task is not None and group.task.done(), what="first scan")
        assert db.get("r/temp").value == 20.5 and db.get("r/temp").quality.is_good
        RawServer.mode = mode
        await scan()
        await scan()
        for p in ("r/temp", "r/a", "r/b"):
            assert db.get(p).quality.is_bad, (mode, p, db.get(p))
        assert db.get("r/temp").value == 20.5            # no garbage value published
        RawServer.mode = "good"
        for _ in range(3):
            await scan()
        assert all(db.get(p).quality.is_good for p in ("r/temp", "r/a", "r/b")), mode
        assert db.get("r/a").value == 7 and db.get("r/b").value == 8
    finally:
        coll.stop()
        server.close()
        await server.wait_closed()
