"""Modbus value encoding: addresses, data types, word/byte order and linear scaling.

Decoding is vectorized: the tags of a read block are grouped by (data type, word
order, byte order) once, at planning time, and each poll decodes a whole group
with a few numpy operations on the block's registers.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import EncodeError
from ..schema import MODBUS_ADDRESS, register_count

TABLES = ("hr", "ir", "co", "di")
BIT_TABLES = ("co", "di")
_NP_TYPE = {"int16": ">i2", "uint16": ">u2", "int32": ">i4", "uint32": ">u4", "int64": ">i8",
            "uint64": ">u8", "float32": ">f4", "float64": ">f8"}
_STRUCT = {"int16": "h", "uint16": "H", "int32": "i", "uint32": "I", "int64": "q", "uint64": "Q",
           "float32": "f", "float64": "d"}
_INT_RANGE = {"int16": (-2**15, 2**15 - 1), "uint16": (0, 2**16 - 1), "int32": (-2**31, 2**31 - 1),
              "uint32": (0, 2**32 - 1), "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1)}


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed Modbus address: table, 0-based offset, optional bit, register count."""

    table: str
    offset: int
    bit: int | None
    count: int          # registers (or 1 bit for coils/discrete inputs)

    @property
    def is_bits(self) -> bool:
        """True for coils and discrete inputs (bit tables)."""
        return self.table in BIT_TABLES


def parse_address(address: str, data_type: str, zero_based: bool = True) -> Address:
    """Parse ``hr:100``, ``hr:100.3``, ``hr:200[10]``, ``co:5`` ... (validated by the loader)."""
    m = MODBUS_ADDRESS.match(address.strip())
    if not m:
        raise EncodeError(f"invalid Modbus address {address!r}")
    table, offset = m.group(1), int(m.group(2)) - (0 if zero_based else 1)
    bit = int(m.group(3)) if m.group(3) is not None else None
    length = int(m.group(4)) if m.group(4) is not None else None
    if table in BIT_TABLES or bit is not None:
        count = 1
    else:
        count = register_count(data_type, length)
    return Address(table, offset, bit, count)


@dataclass(frozen=True, slots=True)
class Linear:
    """``eng = raw * a + b`` clamped to [lo, hi] (±inf when not clamped)."""

    a: float = 1.0
    b: float = 0.0
    lo: float = -math.inf
    hi: float = math.inf

    @classmethod
    def of(cls, scaling) -> "Linear":
        """From a :class:`tagdb.site.model.Scaling` (None = identity)."""
        if scaling is None:
            return cls()
        a = (scaling.eng_hi - scaling.eng_lo) / (scaling.raw_hi - scaling.raw_lo)
        b = scaling.eng_lo - scaling.raw_lo * a
        if scaling.clamp:
            lo, hi = sorted((scaling.eng_lo, scaling.eng_hi))
            return cls(a, b, lo, hi)
        return cls(a, b)

    @property
    def identity(self) -> bool:
        """True when no scaling applies."""
        return self.a == 1.0 and self.b == 0.0 and self.lo == -math.inf and self.hi == math.inf

    def to_raw(self, eng: float) -> float:
        """Engineering value back to the raw device value."""
        if self.lo != -math.inf or self.hi != math.inf:
            eng = min(max(eng, self.lo), self.hi)
        return (eng - self.b) / self.a


def swap_bytes(regs: np.ndarray) -> np.ndarray:
    """Swap the two bytes of every uint16 register."""
    return ((regs >> 8) | (regs << 8)).astype(np.uint16)


def decode_matrix(m: np.ndarray, data_type: str, word_order: str, byte_order: str) -> np.ndarray:
    """Decode rows of registers (n × k uint16) into n raw values of ``data_type``."""
    if byte_order == "little":
        m = swap_bytes(m)
    if word_order == "little" and m.shape[1] > 1:
        m = m[:, ::-1]
    raw = np.ascontiguousarray(m.astype(">u2")).view(_NP_TYPE[data_type]).reshape(m.shape[0])
    return raw.astype(np.float64)


def decode_string(regs, byte_order: str) -> str:
    """Registers holding two ASCII/UTF-8 bytes each into a string (trailing NULs/spaces stripped)."""
    arr = np.asarray(regs, dtype=np.uint16)
    if byte_order == "little":
        arr = swap_bytes(arr)
    return arr.astype(">u2").tobytes().decode("utf-8", "replace").rstrip("\x00 ")


def encode_registers(value, data_type: str, word_order: str = "big", byte_order: str = "big",
                     length: int = 0) -> list[int]:
    """An already-raw value into registers (the inverse of decoding); raises EncodeError."""
    if data_type == "string":
        data = str(value).encode("utf-8")
        if len(data) > 2 * length:
            raise EncodeError(f"string of {len(data)} bytes does not fit {length} registers")
        data = data.ljust(2 * length, b"\x00")
        regs = list(struct.unpack(f">{length}H", data))
        word_order = "big"
    else:
        fmt = _STRUCT[data_type]
        if data_type in _INT_RANGE:
            lo, hi = _INT_RANGE[data_type]
            if isinstance(value, float):
                if not math.isfinite(value):
                    raise EncodeError(f"{value} cannot be written as {data_type}")
                value = round(value)
            if not lo <= value <= hi:
                raise EncodeError(f"{value} is out of range for {data_type} ({lo}..{hi})")
        data = struct.pack(f">{fmt}", value)
        regs = list(struct.unpack(f">{len(data) // 2}H", data))
    if word_order == "little":
        regs.reverse()
    if byte_order == "little":
        regs = [((r >> 8) | (r << 8)) & 0xFFFF for r in regs]
    return regs


def decode_registers(regs, data_type: str, word_order: str = "big", byte_order: str = "big"):
    """Scalar decode of one value (used by writes' read-modify-write and tests)."""
    if data_type == "string":
        return decode_string(regs, byte_order)
    m = np.asarray(regs, dtype=np.uint16).reshape(1, -1)
    raw = decode_matrix(m, data_type, word_order, byte_order)[0]
    return float(raw)
