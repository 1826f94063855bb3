"""Encoding and sending one Modbus write (FC 5, 6, 15, 16) with a typed result."""

from __future__ import annotations

import math

from tagdb.site.model import TagSpec
from tagdb.values import WriteResult, WriteStatus

from ..errors import DeviceUnreachable, EncodeError
from .codec import Address, Linear, encode_registers
from .link import ModbusLink


def _exception_text(rr) -> str:
    from .device import EXCEPTION_NAMES

    code = int(getattr(rr, "exception_code", 0) or 0)
    return f"modbus exception {code:02X} ({EXCEPTION_NAMES.get(code, 'unknown')})"


def raw_value(spec: TagSpec, value):
    """The engineering ``value`` converted to what the device stores (inverse scaling)."""
    if spec.data_type in ("bool", "string"):
        return value
    raw = Linear.of(spec.scaling).to_raw(float(value)) if spec.scaling is not None else value
    if spec.data_type.startswith(("int", "uint")):
        if isinstance(raw, float):
            if not math.isfinite(raw):
                raise EncodeError(f"{value!r} is not a finite number")
            raw = int(round(raw))
    return raw


async def write_value(link: ModbusLink, priority: int, unit: int, spec: TagSpec, addr: Address,
                      value, word_order: str, byte_order: str, single: bool = True) -> WriteResult:
    """Write ``value`` to ``addr``; returns OK or the typed reason it failed.

    ``single`` uses FC 5/6 for one coil/register; False uses FC 15/16 always (for
    devices that implement only the "multiple" functions).
    """
    path = spec.path
    if spec.data_type == "bool":
        if not isinstance(value, (bool, int)) or (not isinstance(value, bool) and value not in (0, 1)):
            return WriteResult(path, value, WriteStatus.BAD_TYPE, f"{path} takes true/false, got {value!r}")
        bit_value = bool(value)
    else:
        try:
            raw = raw_value(spec, value)
            regs = encode_registers(raw, spec.data_type, word_order, byte_order, addr.count)
        except (EncodeError, TypeError, ValueError) as exc:
            status = WriteStatus.BAD_TYPE if isinstance(exc, TypeError) else WriteStatus.OUT_OF_RANGE
            return WriteResult(path, value, status, f"{path}: {exc}")

    async def request(client):
        if addr.table == "co":
            if single:
                return await client.write_coil(addr.offset, bit_value, device_id=unit)
            return await client.write_coils(addr.offset, [bit_value], device_id=unit)
        if addr.bit is not None:
            # A register bit: read-modify-write under the same connection grant.
            rr = await client.read_holding_registers(addr.offset, count=1, device_id=unit)
            if rr.isError():
                return rr
            reg = rr.registers[0]
            mask = 1 << addr.bit
            reg = (reg | mask) if bit_value else (reg & ~mask & 0xFFFF)
            if single:
                return await client.write_register(addr.offset, reg, device_id=unit)
            return await client.write_registers(addr.offset, [reg], device_id=unit)
        if len(regs) == 1 and single:
            return await client.write_register(addr.offset, regs[0], device_id=unit)
        return await client.write_registers(addr.offset, regs, device_id=unit)

    try:
        rr = await link.call(priority, request)
    except DeviceUnreachable as exc:
        return WriteResult(path, value, WriteStatus.DEVICE_UNREACHABLE, str(exc))
    if rr.isError():
        text = _exception_text(rr)
        return WriteResult(path, value, WriteStatus.DEVICE_EXCEPTION, f"{path}: device refused: {text}", text)
    if addr.table == "co":
        expected = 5 if single else 15
    else:
        expected = 6 if single and (addr.bit is not None or len(regs) == 1) else 16
    got = getattr(rr, "function_code", expected) & 0x7F
    if got != expected:
        link.close()
        return WriteResult(path, value, WriteStatus.DEVICE_EXCEPTION,
                           f"{path}: answer with function code {got} to a function {expected} write",
                           f"function {got}")
    return WriteResult(path, value, WriteStatus.OK)
