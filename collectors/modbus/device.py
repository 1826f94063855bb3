"""A polled Modbus device (one unit id): scan groups, fan-out into the tag DB, writes.

Each scan group is a ``LoopingCall`` on the injected clock. A tick starts one
poll of the group's planned blocks unless the previous poll is still running;
a poll that has not finished within two scan periods marks the device Bad, so a
silent device is flagged in time even when the request timeout is longer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from twisted.internet.task import LoopingCall

from tagdb.site.model import DeviceSpec, TagSpec
from tagdb.values import (BAD_COMM_FAILURE, BAD_CONFIG_ERROR, BAD_DEVICE_FAILURE, BAD_NO_COMMUNICATION,
                          Quality, WriteResult, WriteStatus)

from ..errors import DeviceUnreachable, EncodeError, PlanError
from .codec import Address, Linear, parse_address
from .link import POLL, WRITE, ModbusLink
from .planner import Point, ReadBlock, plan_reads
from .writes import write_value

log = logging.getLogger(__name__)

EXCEPTION_NAMES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
                   4: "server device failure", 5: "acknowledge", 6: "server device busy",
                   8: "memory parity error", 10: "gateway path unavailable",
                   11: "gateway target device failed to respond"}


def exception_quality(code: int) -> Quality:
    """The tag quality for a Modbus exception response (detail names the exception)."""
    detail = f"modbus exception {code:02X} ({EXCEPTION_NAMES.get(code, 'unknown')})"
    if code in (1, 2, 3):
        return BAD_CONFIG_ERROR.with_detail(detail)     # the site asks for what the device lacks
    if code in (10, 11):
        return BAD_NO_COMMUNICATION.with_detail(detail)
    return BAD_DEVICE_FAILURE.with_detail(detail)


@dataclass
class ScanGroup:
    """The blocks of one scan group and its polling state."""

    name: str
    period: float
    blocks: list[ReadBlock]
    loop: LoopingCall | None = None
    task: asyncio.Future | None = None
    started: float = 0.0
    last_ok: float = 0.0
    polls: int = 0
    stale_reported: bool = False
    extra: dict = field(default_factory=dict)


class ModbusDevice:
    """Polls one Modbus unit and writes to it (a ``tagdb.contracts.TagWriter``)."""

    def __init__(self, spec: DeviceSpec, tags: list[TagSpec], link: ModbusLink, db: Any, clock: Any,
                 reporter: Callable[..., None] | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.link = link
        self._db = db
        self._clock = clock
        self._reporter = reporter
        opts = dict(spec.options or {})
        self._word = opts.get("word_order") or "big"
        self._byte = opts.get("byte_order") or "big"
        self._zero_based = opts.get("zero_based", True)
        self._sem = asyncio.Semaphore(int(opts.get("max_in_flight") or 1))
        self._down = False
        self._running = False
        self._reported = False
        self._opts = opts
        self.failures = 0
        self.tags = list(tags)
        self._ids = np.asarray(db.ids([t.path for t in self.tags]), dtype=np.intp) if self.tags else np.empty(0, np.intp)
        self._addr: dict[str, Address] = {}
        self._group_of: dict[str, str] = {}
        self.groups: dict[str, ScanGroup] = {}
        self._plan(opts)

    # ------------------------------------------------------------------ planning

    def _plan(self, opts: dict) -> None:
        by_group: dict[str, list[Point]] = {}
        bad: list[int] = []
        for i, t in enumerate(self.tags):
            try:
                addr = parse_address(t.address or "", t.data_type, self._zero_based)
            except EncodeError as exc:
                log.error("%s: tag %s: %s", self.name, t.path, exc)
                bad.append(i)
                continue
            self._addr[t.path] = addr
            self._group_of[t.path] = t.scan_group
            by_group.setdefault(t.scan_group, []).append(
                Point(i, addr, t.data_type, t.word_order or self._word, t.byte_order or self._byte,
                      Linear.of(t.scaling)))
        for name, points in by_group.items():
            period = float(self.spec.scan_groups.get(name) or self.spec.scan_groups.get("default") or 1.0)
            try:
                blocks = plan_reads(points, int(opts.get("max_registers") or 125), int(opts.get("max_bits") or 2000),
                                    int(opts.get("max_gap", 16)), int(opts.get("max_bit_gap", 64)))
            except PlanError as exc:
                log.error("%s: scan group %s: %s", self.name, name, exc)
                bad.extend(p.index for p in points)
                continue
            self.groups[name] = ScanGroup(name, period, blocks)
        if bad:
            self._db.set_quality(self._ids[bad], BAD_CONFIG_ERROR.with_detail("address cannot be read"))

    @property
    def request_count(self) -> int:
        """Read requests one full scan of every group makes."""
        return sum(len(g.blocks) for g in self.groups.values())

    # ------------------------------------------------------------------ scheduling

    def start(self) -> None:
        """Start every scan group's LoopingCall on the injected clock."""
        self._running = True
        for g in self.groups.values():
            g.loop = LoopingCall(self._tick, g)
            g.loop.clock = self._clock
            g.loop.start(g.period, now=True)

    def stop(self) -> None:
        """Stop polling (running polls are cancelled)."""
        self._running = False
        for g in self.groups.values():
            if g.loop is not None and g.loop.running:
                g.loop.stop()
            if g.task is not None and not g.task.done():
                g.task.cancel()

    def _tick(self, group: ScanGroup) -> None:
        now = self._clock.seconds()
        if group.task is not None and not group.task.done():
            if now - group.started >= 2 * group.period and not group.stale_reported:
                group.stale_reported = True
                self._comm_down(f"no answer for {now - group.started:.1f} s")
            return
        group.started = now
        group.stale_reported = False
        group.task = asyncio.ensure_future(self.poll(group))
        group.task.add_done_callback(self._poll_done)

    def _poll_done(self, task: asyncio.Future) -> None:
        if not task.cancelled() and task.exception() is not None:
            # A bug, not a device problem: say so loudly, and keep polling.
            log.error("modbus device %s: poll failed", self.name, exc_info=task.exception())

    async def poll_all(self) -> None:
        """Poll every group once now (tests and benchmarks)."""
        for g in self.groups.values():
            await self.poll(g)

    async def poll(self, group: ScanGroup) -> None:
        """Read every block of ``group`` and fan the values out to the tag DB.

        Blocks are read one after the other (the connection carries one request
        at a time anyway, and no task per block is cheaper); a write waiting at
        the link goes between two blocks. The decoded values of all blocks that
        answered go to the tag DB in one ``ingest``.
        """
        group.polls += 1
        results = [await self._read_block(b) for b in list(group.blocks)]
        good = [r for r in results if r is not None]
        if good:
            now_ns = self._db.now_ns()
            if len(good) == 1:
                ids, values = good[0][0], good[0][1]
            else:
                ids = np.concatenate([r[0] for r in good])
                values = np.concatenate([r[1] for r in good])
            if len(ids):
                self._db.ingest(ids, values, 0, now_ns, unique=True)   # a plan reads each tag once
            strings = [s for r in good for s in r[2]]
            if strings:
                self._ingest_strings(strings, now_ns)
        if len(good) == len(results):
            group.last_ok = self._clock.seconds()

    async def _read_block(self, block: ReadBlock):
        """One block's request: (tag ids, values, strings) when it answered, None otherwise."""
        if self._down and self.link.retry_in() > 0:
            return None           # waiting out the backoff: the device is already marked Bad
        fc, start, count, unit = block.function_code, block.start, block.count, self.spec.unit_id

        async def request(client):
            if fc == 3:
                return await client.read_holding_registers(start, count=count, device_id=unit)
            if fc == 4:
                return await client.read_input_registers(start, count=count, device_id=unit)
            if fc == 1:
                return await client.read_coils(start, count=count, device_id=unit)
            return await client.read_discrete_inputs(start, count=count, device_id=unit)

        try:
            async with self._sem:
                rr = await self.link.call(POLL, request)
        except DeviceUnreachable as exc:
            self._comm_down(str(exc))
            return None
        if self.link.queued:
            # Let a request queued by another unit (gateway) or a write go out before
            # decoding this answer, so the device works on it while we decode.
            await asyncio.sleep(0)
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            self._comm_up()
            if code == 2 and self._split(block):
                return None       # re-planned without gaps: the next poll reads the parts
            self._db.set_quality(self._ids[[p.index for p in block.points]], exception_quality(code))
            return None
        if (getattr(rr, "function_code", fc) & 0x7F) != fc:
            # The stream is out of step with our requests: never decode it as our registers.
            self.link.close()
            self._db.set_quality(self._ids[[p.index for p in block.points]], BAD_DEVICE_FAILURE.with_detail(
                f"answer with function code {rr.function_code} to a function {fc} request"))
            return None
        try:
            if fc in (3, 4):
                rows, values, strings = block.decode(rr.registers, getattr(rr, "payload", None))
            else:
                rows, values, strings = block.decode(rr.bits)
        except PlanError as exc:
            self._db.set_quality(self._ids[[p.index for p in block.points]],
                                 BAD_DEVICE_FAILURE.with_detail(f"short response: {exc}"))
            return None
        self._comm_up()
        if block.ids is None:
            block.ids = self._ids[rows]
        return block.ids, values, strings

    def _split(self, block: ReadBlock) -> bool:
        """After 'illegal data address' on a block that spans unused registers, read its tags
        in gap-free blocks from now on (the device has holes in its map); True when split."""
        parts = plan_reads(block.points, int(self._opts.get("max_registers") or 125),
                           int(self._opts.get("max_bits") or 2000), 0, 0)
        if len(parts) <= 1:
            return False
        for g in self.groups.values():
            if block in g.blocks:
                i = g.blocks.index(block)
                g.blocks[i:i + 1] = parts
                log.warning("modbus device %s: %s:%d+%d refused as one read (illegal data address); "
                            "reading it as %d gap-free blocks", self.name, block.table, block.start,
                            block.count, len(parts))
                return True
        return False

    def _ingest_strings(self, strings: list[tuple[int, str]], now_ns: int) -> None:
        from tagdb.columns import ns_to_utc
        from tagdb.values import GOOD, TagValue

        ts = ns_to_utc(now_ns)
        self._db.update([TagValue(self.tags[row].path, s, GOOD, ts, ts) for row, s in strings])

    # ------------------------------------------------------------------ health

    def _comm_down(self, reason: str) -> None:
        self.failures += 1
        if not self._down:
            self._down = True
            log.error("modbus device %s (%s unit %d) is unreachable: %s", self.name, self.link.name,
                      self.spec.unit_id, reason)
            self._db.set_quality(self.name, BAD_COMM_FAILURE.with_detail(reason))
            self._report(False, reason)
        else:
            log.debug("modbus device %s still unreachable: %s", self.name, reason)

    def _comm_up(self) -> None:
        if self._down:
            self._down = False
            log.info("modbus device %s (%s unit %d) recovered", self.name, self.link.name, self.spec.unit_id)
            self._report(True, "")
        elif not self._reported:
            self._report(True, "")

    def _report(self, connected: bool, error: str) -> None:
        self._reported = True
        if self._reporter is not None:
            try:
                self._reporter(self.name, connected, error)
            except Exception:
                log.exception("device health report of %s failed", self.name)

    @property
    def is_down(self) -> bool:
        """True while the device is marked unreachable."""
        return self._down

    # ------------------------------------------------------------------ writes

    async def write_tag(self, spec: TagSpec, value) -> WriteResult:
        """Write an engineering value (FC 5/6/15/16), ahead of queued polls; never raises."""
        if not spec.writable:
            return WriteResult(spec.path, value, WriteStatus.READ_ONLY, f"{spec.path} is read-only")
        addr = self._addr.get(spec.path)
        if addr is None:
            return WriteResult(spec.path, value, WriteStatus.NO_SUCH_TAG, f"{spec.path} is not polled by {self.name}")
        if addr.table in ("ir", "di"):
            return WriteResult(spec.path, value, WriteStatus.READ_ONLY,
                               f"{spec.path} is an input ({addr.table}); inputs cannot be written")
        if not self._running:
            # Writes routed before the collectors started (or after they stopped) must not
            # open connections behind the service tree's back.
            return WriteResult(spec.path, value, WriteStatus.DEVICE_UNREACHABLE,
                               f"{self.name}: the collector is not running")
        result = await write_value(self.link, WRITE, self.spec.unit_id, spec, addr, value,
                                   spec.word_order or self._word, spec.byte_order or self._byte,
                                   single=bool(self._opts.get("single_writes", True)))
        if result.status is WriteStatus.DEVICE_UNREACHABLE:
            self._comm_down(result.message)
        elif result.ok:
            group = self.groups.get(self._group_of.get(spec.path, ""))
            if group is not None and group.loop is not None:
                # Read back soon so operators see the device's value, not the requested one.
                self._clock.callLater(0, self._tick, group)
        return result
