"""Property-based tests of Modbus read planning and decoding.

Random tag maps are placed in a register bank exactly as the simulators store
values; the plan must cover every tag, respect the request limits, and decode
every value (every type, word/byte order, scaling) back to what was stored.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.errors import PlanError
from collectors.modbus.codec import Address, Linear, decode_registers, encode_registers
from collectors.modbus.planner import Point, plan_reads
from collectors.sim.modbus_server import RegisterBank
from tagdb.site.model import Scaling

NUMERIC = ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
SIZES = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2, "int64": 4, "uint64": 4, "float64": 4}
RANGES = {"int16": (-2**15, 2**15 - 1), "uint16": (0, 2**16 - 1), "int32": (-2**31, 2**31 - 1),
          "uint32": (0, 2**32 - 1), "int64": (-2**53, 2**53), "uint64": (0, 2**53)}
ORDER = st.sampled_from(["big", "little"])


@st.composite
def tag_maps(draw):
    """A random set of non-overlapping points with raw values, spread over the four tables."""
    n = draw(st.integers(1, 60))
    used: dict[str, set[int]] = {t: set() for t in ("hr", "ir", "co", "di")}
    points, raws = [], []
    for i in range(n):
        table = draw(st.sampled_from(["hr", "ir", "co", "di"]))
        start = draw(st.integers(0, 900))
        if table in ("co", "di"):
            dtype, count, bit = "bool", 1, None
        else:
            dtype = draw(st.sampled_from(NUMERIC + ["bool", "string"]))
            bit = draw(st.integers(0, 15)) if dtype == "bool" else None
            count = draw(st.integers(1, 8)) if dtype == "string" else SIZES.get(dtype, 1)
        span = set(range(start, start + count))
        if span & used[table]:
            continue
        used[table] |= span
        wo, bo = draw(ORDER), draw(ORDER)
        linear = Linear()
        if dtype in ("bool", "string", "co", "di"):
            raw = draw(st.booleans()) if dtype == "bool" else draw(
                st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", max_size=2 * count))
        elif dtype.startswith("float"):
            raw = draw(st.floats(-1e6, 1e6, allow_nan=False, width=32 if dtype == "float32" else 64))
        else:
            raw = draw(st.integers(*RANGES[dtype]))
        if dtype in NUMERIC and draw(st.booleans()):
            lo, hi = sorted(draw(st.lists(st.integers(-1000, 1000), min_size=2, max_size=2, unique=True)))
            clamp = draw(st.booleans())
            linear = Linear.of(Scaling(0, 1000, lo, hi, clamp))
        points.append(Point(len(points), Address(table, start, bit, count), dtype, wo, bo, linear))
        raws.append(raw)
    return points, raws


def _store(bank: RegisterBank, p: Point, raw) -> None:
    bank.put(p.address, p.data_type, raw, word_order=p.word_order, byte_order=p.byte_order)


@settings(max_examples=150, deadline=None)
@given(tag_maps(), st.integers(1, 125), st.integers(0, 40))
def test_plan_covers_every_tag_within_limits_and_decodes_exactly(tmap, max_regs, gap):
    points, raws = tmap
    # A register bit shares its register with other bits: store all bits first, then check.
    bank = RegisterBank(1024)
    for p, raw in zip(points, raws):
        _store(bank, p, raw)
    try:
        blocks = plan_reads(points, max_registers=max_regs, max_bits=2000, max_gap=gap)
    except PlanError:
        assert any(p.address.count > max_regs for p in points)
        return
    covered = [p.index for b in blocks for p in b.points]
    assert sorted(covered) == list(range(len(points)))          # every tag exactly once
    for b in blocks:
        limit = 2000 if b.table in ("co", "di") else max_regs
        assert 1 <= b.count <= limit
        for p in b.points:
            assert b.start <= p.address.offset and p.end <= b.start + b.count
    decoded: dict[int, object] = {}
    for b in blocks:
        data = bank.table(b.table)[b.start:b.start + b.count]
        rows, values, strings = b.decode(list(data))
        if b.table in ("hr", "ir"):       # from the response's payload bytes: the same values
            r2, v2, s2 = b.decode(list(data), struct.pack(f">{len(data)}H", *data.tolist()))
            assert r2.tolist() == rows.tolist() and np.array_equal(v2, values, equal_nan=True) and s2 == strings
        decoded.update(zip(rows.tolist(), values.tolist()))
        decoded.update(strings)
    for p, raw in zip(points, raws):
        got = decoded[p.index]
        if p.data_type == "bool":
            assert got == float(bool(raw))
        elif p.data_type == "string":
            assert got == raw
        else:
            expected = float(np.float32(raw)) if p.data_type == "float32" else float(raw)
            expected = expected * p.linear.a + p.linear.b
            expected = min(max(expected, p.linear.lo), p.linear.hi)
            assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.sampled_from(["int16", "float32", "float64"])),
                min_size=1, max_size=200),
       st.integers(0, 30))
def test_merging_is_minimal_for_sorted_greedy(specs, gap):
    """No two consecutive blocks of a table could have been one request."""
    points = [Point(i, Address("hr", off, None, SIZES[dt]), dt) for i, (off, dt) in enumerate(specs)]
    blocks = plan_reads(points, max_gap=gap)
    for a, b in zip(blocks, blocks[1:]):
        if a.table != b.table:
            continue
        joinable = b.start - (a.start + a.count) <= gap and (b.start + b.count) - a.start <= 125
        assert not joinable


@given(st.sampled_from(NUMERIC), ORDER, ORDER, st.data())
def test_encode_decode_roundtrip(dtype, wo, bo, data):
    if dtype.startswith("float"):
        v = data.draw(st.floats(allow_nan=False, allow_infinity=False, width=32 if dtype == "float32" else 64))
    else:
        v = data.draw(st.integers(*RANGES[dtype]))
    regs = encode_registers(v, dtype, wo, bo)
    assert len(regs) == SIZES[dtype] and all(0 <= r <= 0xFFFF for r in regs)
    got = decode_registers(regs, dtype, wo, bo)
    if dtype.startswith("float"):
        assert got == v                      # exact: the value is representable
    else:
        assert got == float(v)               # integers come back as float64 (the tag DB column)


def test_word_and_byte_order_layout():
    # 0x11223344 as uint32 in the four orders a field engineer meets (ABCD, CDAB, BADC, DCBA).
    assert encode_registers(0x11223344, "uint32", "big", "big") == [0x1122, 0x3344]
    assert encode_registers(0x11223344, "uint32", "little", "big") == [0x3344, 0x1122]
    assert encode_registers(0x11223344, "uint32", "big", "little") == [0x2211, 0x4433]
    assert encode_registers(0x11223344, "uint32", "little", "little") == [0x4433, 0x2211]


def test_point_larger_than_a_request_is_refused():
    with pytest.raises(PlanError):
        plan_reads([Point(0, Address("hr", 0, None, 100), "string")], max_registers=50)


def test_scaling_inverse_matches():
    lin = Linear.of(Scaling(0, 1000, 0.0, 100.0, clamp=True))
    assert lin.to_raw(42.5) == pytest.approx(425)
    assert lin.to_raw(150.0) == pytest.approx(1000)   # clamped to the engineering range first
    assert math.isinf(Linear().hi)


@settings(max_examples=25, deadline=None)
@given(tag_maps())
def test_random_tag_maps_over_loopback_match_the_simulator(tmap):
    """End to end on a private event loop: simulator bank → TCP → collector → tag DB."""
    import asyncio
    from types import MappingProxyType

    from twisted.internet.task import Clock

    from collectors.modbus.collector import ModbusCollector
    from collectors.sim.modbus_server import ModbusSimServer
    from collectors.testing import free_port
    from tagdb.database import TagDatabase
    from tagdb.site.model import DeviceSpec, SiteModel, TagSpec

    points, raws = tmap
    bank = RegisterBank(1024)
    for p, raw in zip(points, raws):
        _store(bank, p, raw)
    tags = []
    for p in points:
        a = p.address
        addr = f"{a.table}:{a.offset}" + (f".{a.bit}" if a.bit is not None else "") + \
            (f"[{a.count}]" if p.data_type == "string" else "")
        scaling = None
        if p.linear.a != 1.0 or p.linear.b != 0.0:
            lo = p.linear.b
            scaling = Scaling(0, 1000, lo, lo + 1000 * p.linear.a, clamp=p.linear.lo != -math.inf)
        tags.append(TagSpec(f"t/p{p.index}", p.data_type, "plc", addr, scaling=scaling,
                            word_order=p.word_order, byte_order=p.byte_order))
    port = free_port()
    dev = DeviceSpec(name="plc", protocol="modbus", endpoint=f"tcp://127.0.0.1:{port}", timeout=2.0,
                     options=MappingProxyType({"max_gap": 8}))
    site = SiteModel(name="t", timezone="UTC", files=(), buildings=(), devices={"plc": dev}, tags=tuple(tags),
                     equipment=(), sections={})
    clock = Clock()
    clock.advance(1_772_352_000)
    db = TagDatabase(site.tags, clock)

    async def main():
        server = ModbusSimServer("127.0.0.1", port, {1: bank})
        await server.start()
        coll = ModbusCollector(site, db, clock)
        try:
            await coll.devices["plc"].poll_all()
        finally:
            coll.stop()
            await server.stop()

    # pytest-twisted runs tests inside the reactor's running loop: use a private loop in a thread.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result(timeout=30)
    for p, raw, t in zip(points, raws, tags):
        got = db.get(t.path)
        assert got.quality.is_good, (t, got)
        if p.data_type == "string":
            assert got.value == raw
        elif p.data_type == "bool":
            assert bool(got.value) == bool(raw)
        else:
            expected = float(np.float32(raw)) if p.data_type == "float32" else float(raw)
            expected = min(max(expected * p.linear.a + p.linear.b, p.linear.lo), p.linear.hi)
            if t.scaling is None or p.data_type.startswith("float"):
                assert got.value == pytest.approx(expected, rel=1e-9, abs=1e-6)
            else:
                # The tag DB keeps integer-typed tags as integers (even scaled): within rounding.
                assert abs(got.value - expected) <= 0.5 + 1e-6
