"""Read planning: merge a device's tags into as few Modbus requests as possible.

Per table (function code) the points are sorted by offset and merged greedily:
a block grows while it stays within the protocol maximum (125 registers, 2000
bits, or the device's lower limits) and the hole between the block and the next
point is at most the gap tolerance. Each block carries pre-grouped decoders so a
poll decodes all its tags with a few vectorized operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import PlanError
from .codec import Address, Linear, decode_matrix, decode_string

FUNCTION_CODE = {"co": 1, "di": 2, "hr": 3, "ir": 4}


@dataclass(frozen=True, slots=True)
class Point:
    """One tag to read: its row in the caller's tag list, where it lives, how to decode it."""

    index: int
    address: Address
    data_type: str
    word_order: str = "big"
    byte_order: str = "big"
    linear: Linear = Linear()

    @property
    def end(self) -> int:
        """One past the last register/bit the point occupies."""
        return self.address.offset + self.address.count


@dataclass
class _Group:
    """Points of one block sharing a decode recipe."""

    kind: str                      # "bits" | "bit" | "num" | "str"
    data_type: str
    word_order: str
    byte_order: str
    rows: np.ndarray               # indexes into the caller's tag list
    gather: np.ndarray             # register/bit positions relative to the block start (n × k)
    bits: np.ndarray | None = None
    a: np.ndarray | None = None
    b: np.ndarray | None = None
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    scaled: bool = False
    clamped: bool = False


@dataclass
class ReadBlock:
    """One read request (table, start, count) and the points it serves."""

    table: str
    start: int
    count: int
    points: list[Point]
    groups: list[_Group] = field(default_factory=list)

    @property
    def function_code(self) -> int:
        """The Modbus function code of the read."""
        return FUNCTION_CODE[self.table]

    @property
    def rows(self) -> np.ndarray:
        """Caller rows of every numeric/bool point in the block, in decode order."""
        return np.concatenate([g.rows for g in self.groups if g.kind != "str"] or [np.empty(0, np.int64)])

    def decode(self, data) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str]]]:
        """Decode a response (registers or bits) into (rows, float64 values, [(row, string)])."""
        arr = np.asarray(data[: self.count], dtype=np.uint16 if self.table in ("hr", "ir") else bool)
        if arr.shape[0] < self.count:
            raise PlanError(f"response holds {arr.shape[0]} of {self.count} values")
        rows, values, strings = [], [], []
        for g in self.groups:
            if g.kind == "bits":
                v = arr[g.gather[:, 0]].astype(np.float64)
            elif g.kind == "bit":
                regs = arr[g.gather[:, 0]]
                v = ((regs >> g.bits) & 1).astype(np.float64)
            elif g.kind == "num":
                v = decode_matrix(arr[g.gather], g.data_type, g.word_order, g.byte_order)
                if g.scaled:
                    v = v * g.a + g.b
                if g.clamped:
                    v = np.minimum(np.maximum(v, g.lo), g.hi)
            else:
                for row, idx in zip(g.rows.tolist(), g.gather):
                    strings.append((row, decode_string(arr[idx], g.byte_order)))
                continue
            rows.append(g.rows)
            values.append(v)
        if not rows:
            return np.empty(0, np.int64), np.empty(0), strings
        return np.concatenate(rows), np.concatenate(values), strings


def _build_groups(block: ReadBlock) -> None:
    recipes: dict[tuple, list[Point]] = {}
    for p in block.points:
        if block.table in ("co", "di"):
            key = ("bits", "bool", "big", "big")
        elif p.address.bit is not None:
            key = ("bit", "bool", "big", "big")   # bit N is of the register's value: no byte order
        elif p.data_type == "string":
            key = ("str", "string", "big", p.byte_order)
        else:
            key = ("num", p.data_type, p.word_order, p.byte_order)
        recipes.setdefault(key, []).append(p)
    for (kind, dtype, wo, bo), pts in recipes.items():
        rows = np.array([p.index for p in pts], dtype=np.int64)
        if kind == "str":
            gather = [np.arange(p.address.offset, p.end) - block.start for p in pts]
            block.groups.append(_Group(kind, dtype, wo, bo, rows, gather))  # ragged: a list
            continue
        k = pts[0].address.count
        base = np.array([p.address.offset - block.start for p in pts], dtype=np.int64)
        gather = base[:, None] + np.arange(k)[None, :]
        g = _Group(kind, dtype, wo, bo, rows, gather)
        if kind == "bit":
            g.bits = np.array([p.address.bit for p in pts], dtype=np.uint16)
        if kind == "num":
            g.a = np.array([p.linear.a for p in pts])
            g.b = np.array([p.linear.b for p in pts])
            g.lo = np.array([p.linear.lo for p in pts])
            g.hi = np.array([p.linear.hi for p in pts])
            g.scaled = bool(np.any(g.a != 1.0) or np.any(g.b != 0.0))
            g.clamped = bool(np.any(np.isfinite(g.lo)) or np.any(np.isfinite(g.hi)))
        block.groups.append(g)


def plan_reads(points: list[Point], max_registers: int = 125, max_bits: int = 2000,
               max_gap: int = 16, max_bit_gap: int = 64) -> list[ReadBlock]:
    """Merge ``points`` into read blocks; raises PlanError for a point larger than a request."""
    blocks: list[ReadBlock] = []
    by_table: dict[str, list[Point]] = {}
    for p in points:
        by_table.setdefault(p.address.table, []).append(p)
    for table in ("co", "di", "hr", "ir"):
        pts = sorted(by_table.get(table, ()), key=lambda p: (p.address.offset, p.end))
        if not pts:
            continue
        limit, gap = (max_bits, max_bit_gap) if table in ("co", "di") else (max_registers, max_gap)
        current: ReadBlock | None = None
        end = 0
        for p in pts:
            if p.address.count > limit:
                raise PlanError(f"{p.data_type} at {table}:{p.address.offset} spans {p.address.count} "
                                f"registers, more than one request may read ({limit})")
            if current is not None and p.address.offset - end <= gap \
                    and max(end, p.end) - current.start <= limit:
                current.points.append(p)
                end = max(end, p.end)
                current.count = end - current.start
                continue
            current = ReadBlock(table, p.address.offset, p.address.count, [p])
            end = p.end
            blocks.append(current)
    for b in blocks:
        _build_groups(b)
    return blocks


def plan_cost(blocks: list[ReadBlock]) -> int:
    """Number of requests a plan makes (what planning minimises)."""
    return len(blocks)


__all__ = ["Point", "ReadBlock", "plan_reads", "plan_cost", "FUNCTION_CODE"]
