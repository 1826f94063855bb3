"""Register read responses (function codes 3 and 4) decoded in one step.

pymodbus decodes a register response one ``struct.unpack`` per register and
formats every register into a debug string whether debug logging is on or
not: about two thirds of a poll's client CPU on a 125-register block. The
collector registers these classes on each of its clients through pymodbus'
documented extension point (``client.register``), so a response is decoded
with one ``struct`` call and keeps its payload bytes, which the read planner
decodes tags from directly. The frame checks are the stock ones: a byte count
that is odd or runs past the frame is refused and the frame dropped.
"""

from __future__ import annotations

import struct
from functools import lru_cache

from pymodbus.exceptions import ModbusIOException
from pymodbus.pdu import ModbusPDU


@lru_cache(maxsize=None)
def _words(n: int) -> struct.Struct:
    return struct.Struct(f">{n}H")


class RegistersResponse(ModbusPDU):
    """A read-registers response whose ``payload`` holds the register bytes as on the wire."""

    function_code = 0
    rtu_byte_count_pos = 2

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.payload = b""

    def encode(self) -> bytes:
        """The byte count and the registers, big-endian (as the stock response)."""
        regs = list(self.registers)
        return bytes([2 * len(regs)]) + _words(len(regs)).pack(*regs)

    def decode(self, data: bytes) -> None:
        """Check the byte count against the frame, then unpack every register at once."""
        if not data:
            raise ModbusIOException("empty register response", function_code=self.function_code)
        size = data[0]
        if size >= len(data) or size % 2:
            raise ModbusIOException(f"byte_count {size} does not fit a packet of {len(data)} bytes",
                                    function_code=self.function_code)
        self.payload = bytes(data[1:1 + size])
        self.registers = list(_words(size // 2).unpack(self.payload))

    def __str__(self) -> str:
        # pymodbus formats each decoded PDU for its debug log even when that is off:
        # name the registers' count, not all 125 values.
        return (f"{type(self).__name__}(dev_id={self.dev_id}, transaction_id={self.transaction_id}, "
                f"registers={len(self.registers)})")


class HoldingRegistersResponse(RegistersResponse):
    """Function code 3."""

    function_code = 3


class InputRegistersResponse(RegistersResponse):
    """Function code 4."""

    function_code = 4


def install(client) -> None:
    """Make ``client`` decode register responses with these classes (this client only)."""
    client.register(HoldingRegistersResponse)
    client.register(InputRegistersResponse)
