"""A small Modbus TCP server for the simulators, with fault injection built in.

It serves function codes 1-6, 15 and 16 from per-unit register banks. It is
written against asyncio directly (not pymodbus' server) so that tests can make a
unit answer with an exception, stop answering, drop connections, or go away and
come back on the same port, and so that benchmark numbers measure the client.
"""

from __future__ import annotations

import asyncio
import logging
import struct

import numpy as np

from ..errors import SimulatorError
from ..modbus.codec import Address, decode_registers, encode_registers

log = logging.getLogger(__name__)


class RegisterBank:
    """The four Modbus tables of one unit; physics writes skip frozen addresses."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.hr = np.zeros(size, np.uint16)
        self.ir = np.zeros(size, np.uint16)
        self.co = np.zeros(size, bool)
        self.di = np.zeros(size, bool)
        self.frozen: set[tuple[str, int]] = set()
        self.holes: set[tuple[str, int]] = set()      # addresses the device does not have (exception 02)

    def has_hole(self, table: str, start: int, count: int) -> bool:
        """True when a read of ``count`` from ``start`` touches an address the device lacks."""
        return any(t == table and start <= a < start + count for t, a in self.holes)

    def table(self, name: str) -> np.ndarray:
        """One of hr, ir, co, di."""
        return getattr(self, name)

    def put(self, addr: Address, data_type: str, raw, force: bool = False,
            word_order: str = "big", byte_order: str = "big") -> None:
        """Store a raw value (physics side); frozen addresses keep their value unless ``force``."""
        if not force and (addr.table, addr.offset) in self.frozen:
            return
        t = self.table(addr.table)
        if addr.table in ("co", "di"):
            t[addr.offset] = bool(raw)
        elif addr.bit is not None:
            mask = 1 << addr.bit
            t[addr.offset] = (int(t[addr.offset]) | mask) if raw else (int(t[addr.offset]) & ~mask & 0xFFFF)
        else:
            t[addr.offset:addr.offset + addr.count] = encode_registers(raw, data_type, word_order, byte_order,
                                                                       addr.count)

    def get(self, addr: Address, data_type: str, word_order: str = "big", byte_order: str = "big"):
        """Read a raw value back."""
        t = self.table(addr.table)
        if addr.table in ("co", "di"):
            return bool(t[addr.offset])
        if addr.bit is not None:
            return bool((int(t[addr.offset]) >> addr.bit) & 1)
        v = decode_registers(t[addr.offset:addr.offset + addr.count], data_type, word_order, byte_order)
        return int(v) if data_type not in ("float32", "float64", "string") else v


class _Unit:
    def __init__(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.exception: int | None = None
        self.silent = False
        self.requests = 0


class _Protocol(asyncio.Protocol):
    def __init__(self, server: "ModbusSimServer") -> None:
        self.server = server
        self.buf = b""
        self.transport = None

    def connection_made(self, transport) -> None:
        """Track the connection so faults can drop it."""
        self.transport = transport
        self.server._conns.add(self)

    def connection_lost(self, exc) -> None:
        """Forget the connection."""
        self.server._conns.discard(self)

    def data_received(self, data: bytes) -> None:
        """Split MBAP frames and answer each one (or stay silent / drop the connection)."""
        self.buf += data
        while len(self.buf) >= 7:
            tid, pid, length, uid = struct.unpack(">HHHB", self.buf[:7])
            if length < 2 or length > 254 or pid != 0:
                self.transport.close()     # not Modbus: a real device resets the connection
                return
            if len(self.buf) < 6 + length:
                return
            pdu, self.buf = self.buf[7:6 + length], self.buf[6 + length:]
            reply = self.server._handle(uid, pdu)
            if reply is not None:
                self.transport.write(struct.pack(">HHHB", tid, 0, len(reply) + 1, uid) + reply)


def _exc(fc: int, code: int) -> bytes:
    return bytes((fc | 0x80, code))


class ModbusSimServer:
    """Serves ``units`` (unit id → RegisterBank) on ``host:port``; every fault is a method."""

    def __init__(self, host: str, port: int, units: dict[int, RegisterBank], name: str = "") -> None:
        self.host, self.port = host, port
        self.name = name or f"{host}:{port}"
        self.units = {uid: _Unit(bank) for uid, bank in units.items()}
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[_Protocol] = set()
        self.on_write = None       # callback(unit_id, table, offset, count) after a client write

    @property
    def running(self) -> bool:
        """True while listening."""
        return self._server is not None

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free port, then ``port`` tells which)."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: _Protocol(self), self.host, self.port,
                                                    reuse_address=True)
        except OSError as exc:
            raise SimulatorError(f"simulator {self.name} cannot listen on {self.host}:{self.port}: {exc}") from exc
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection (a device switched off)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
            self.drop_connections()
            await server.wait_closed()

    def drop_connections(self) -> None:
        """Reset every client connection; the server keeps listening."""
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.abort()
        self._conns.clear()

    @property
    def connections(self) -> int:
        """Open client connections."""
        return len(self._conns)

    def set_exception(self, unit: int, code: int | None) -> None:
        """Answer every request to ``unit`` with Modbus exception ``code`` (None: normal answers)."""
        self._unit(unit).exception = code

    def set_silent(self, unit: int, silent: bool = True) -> None:
        """Make ``unit`` stop answering (requests time out) or answer again."""
        self._unit(unit).silent = silent

    def _unit(self, unit: int) -> _Unit:
        try:
            return self.units[unit]
        except KeyError:
            raise SimulatorError(f"simulator {self.name} has no unit {unit}") from None

    def _handle(self, uid: int, pdu: bytes) -> bytes | None:
        unit = self.units.get(uid)
        fc = pdu[0] if pdu else 0
        if unit is None:
            return _exc(fc, 0x0B)           # gateway: target device failed to respond
        unit.requests += 1
        if unit.silent:
            return None
        if unit.exception is not None:
            return _exc(fc, unit.exception)
        bank = unit.bank
        try:
            if fc in (1, 2, 3, 4):
                start, count = struct.unpack(">HH", pdu[1:5])
                limit = 2000 if fc <= 2 else 125
                if not 1 <= count <= limit:
                    return _exc(fc, 3)
                if start + count > bank.size or (bank.holes and bank.has_hole(
                        ("co", "di", "hr", "ir")[fc - 1], start, count)):
                    return _exc(fc, 2)
                if fc <= 2:
                    bits = (bank.co if fc == 1 else bank.di)[start:start + count]
                    packed = np.packbits(bits, bitorder="little").tobytes()
                    return bytes((fc, len(packed))) + packed
                regs = (bank.hr if fc == 3 else bank.ir)[start:start + count]
                return bytes((fc, 2 * count)) + regs.astype(">u2").tobytes()
            if fc == 5:
                addr, value = struct.unpack(">HH", pdu[1:5])
                if value not in (0x0000, 0xFF00):
                    return _exc(fc, 3)
                if addr >= bank.size:
                    return _exc(fc, 2)
                bank.co[addr] = value == 0xFF00
                self._written(uid, "co", addr, 1)
                return pdu[:5]
            if fc == 6:
                addr, value = struct.unpack(">HH", pdu[1:5])
                if addr >= bank.size:
                    return _exc(fc, 2)
                bank.hr[addr] = value
                self._written(uid, "hr", addr, 1)
                return pdu[:5]
            if fc == 15:
                addr, count, nbytes = struct.unpack(">HHB", pdu[1:6])
                if not 1 <= count <= 1968 or nbytes != (count + 7) // 8 or len(pdu) < 6 + nbytes:
                    return _exc(fc, 3)
                if addr + count > bank.size:
                    return _exc(fc, 2)
                bits = np.unpackbits(np.frombuffer(pdu[6:6 + nbytes], np.uint8), bitorder="little")[:count]
                bank.co[addr:addr + count] = bits.astype(bool)
                self._written(uid, "co", addr, count)
                return pdu[:5]
            if fc == 16:
                addr, count, nbytes = struct.unpack(">HHB", pdu[1:6])
                if not 1 <= count <= 123 or nbytes != 2 * count or len(pdu) < 6 + nbytes:
                    return _exc(fc, 3)
                if addr + count > bank.size:
                    return _exc(fc, 2)
                bank.hr[addr:addr + count] = np.frombuffer(pdu[6:6 + nbytes], ">u2")
                self._written(uid, "hr", addr, count)
                return pdu[:5]
        except struct.error:
            return _exc(fc, 3)
        return _exc(fc, 1)

    def _written(self, uid: int, table: str, addr: int, count: int) -> None:
        if self.on_write is not None:
            try:
                self.on_write(uid, table, addr, count)
            except Exception:
                log.exception("simulator %s: write hook failed", self.name)
