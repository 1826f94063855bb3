"""One forwarder per sink: a live lane and a throttled backfill lane over the buffer.

The live lane sends the newest data as it arrives. When a sink comes back after
an outage (or at start-up with a backlog) the live lane splits the backlog off
into a closed range that the backfill lane drains at a bounded rate, so live
values are never queued behind an hour of backlog. Both lanes acknowledge a
batch to the buffer only after the sink stored it. A batch the sink refuses as
malformed is bisected until the bad point is isolated and quarantined; the rest
flows.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.task import deferLater

from .buffer import PointBuffer
from .errors import SinkRejected

log = logging.getLogger("spms.historian.forwarder")


@dataclass
class SinkStats:
    """Live figures of one sink (published as ``_system/historian/<sink>/...`` tags)."""

    written: int = 0            # points acknowledged since start
    backfilled: int = 0         # of which through the backfill lane
    quarantined: int = 0        # since start (the persisted total is in the buffer)
    failures: int = 0
    last_error: str = ""
    failing: bool = False
    last_success: float | None = None


class SinkForwarder:
    """Moves points from the buffer to one sink (see the module docstring)."""

    def __init__(self, sink: Any, buffer: PointBuffer, clock: Any, batch_size: int = 5000,
                 backfill_rate: float = 50_000.0, retry_min: float = 0.5, retry_max: float = 30.0,
                 pipeline: int = 2) -> None:
        self.sink = sink
        self.name: str = sink.name
        self.buffer = buffer
        self.clock = clock
        self.batch_size = batch_size
        self.backfill_rate = backfill_rate
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.pipeline = max(1, pipeline)
        self.stats = SinkStats()
        self._running = False
        self._recovering = True     # a backlog found at start-up is backfill too
        self._backoff = retry_min
        self._waiters: dict[str, Deferred | None] = {"live": None, "backfill": None}
        self._lanes: list[Deferred] = []
        self._sleeps: set[Deferred] = set()

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start both lanes."""
        self._running = True
        self._lanes = [Deferred.fromCoroutine(self._live_loop()), Deferred.fromCoroutine(self._backfill_loop())]

    async def stop(self) -> None:
        """Stop both lanes; an in-flight batch is abandoned (it stays in the buffer)."""
        self._running = False
        for lane in ("live", "backfill"):
            self._wake(lane)
        for d in list(self._sleeps):
            d.cancel()
        for lane in self._lanes:
            lane.cancel()
        for lane in self._lanes:
            try:
                await lane
            except CancelledError:
                pass

    def notify(self) -> None:
        """New rows were appended: wake the live lane."""
        self._wake("live")

    def _wake(self, lane: str) -> None:
        d, self._waiters[lane] = self._waiters[lane], None
        if d is not None and not d.called:
            d.callback(None)

    async def _wait(self, lane: str) -> None:
        d = self._waiters[lane] = Deferred()
        await d

    async def _sleep(self, seconds: float) -> None:
        d = deferLater(self.clock, seconds, lambda: None)
        self._sleeps.add(d)
        try:
            await d
        finally:
            self._sleeps.discard(d)

    # -- lanes -----------------------------------------------------------------------------------

    async def _live_loop(self) -> None:
        """Send the tail in order with up to ``pipeline`` batches in flight; acknowledge in order.

        Two batches in flight let us encode the next batch while the sink digests
        the previous one. A failure discards whatever was in flight after the
        failed batch (re-sending it later is harmless: same series and time).
        """
        buf = self.buffer
        inflight: deque[tuple[int, int, Deferred]] = deque()
        next_lo = buf.tail(self.name)
        try:
            while self._running:
                # While recovering, one batch at a time: the backlog split waits for an empty pipeline.
                if len(inflight) < (1 if self._recovering else self.pipeline):
                    rows = buf.read(next_lo, None, self.batch_size)
                    if rows:
                        end = rows[-1][0] + 1
                        inflight.append((next_lo, end, Deferred.fromCoroutine(self._deliver_batch(rows, "live"))))
                        next_lo = end
                        continue
                if not inflight:
                    self._recovering = False
                    await self._wait("live")
                    next_lo = buf.tail(self.name)
                    continue
                lo, end, d = inflight.popleft()
                if not await d:
                    for _, _, rest in inflight:
                        await rest
                    inflight.clear()
                    await self._sleep(self._backoff)
                    self._backoff = min(self._backoff * 2, self.retry_max)
                    next_lo = buf.tail(self.name)
                    continue
                buf.ack(self.name, lo, end)
                if self._recovering and not inflight:
                    self._recovering = False
                    if buf.tail_depth(self.name) > 2 * self.batch_size:
                        split = buf.split_backlog(self.name)
                        if split:
                            log.info("historian sink %r: %d points of backlog go to the backfill lane",
                                     self.name, split[1] - split[0])
                        next_lo = buf.tail(self.name)
                        self._wake("backfill")
        except CancelledError:
            for _, _, d in inflight:
                d.addErrback(lambda f: f.trap(CancelledError))
                d.cancel()
            return

    async def _backfill_loop(self) -> None:
        buf = self.buffer
        try:
            while self._running:
                rng = buf.backlog(self.name)
                if rng is None:
                    await self._wait("backfill")
                    continue
                if buf.tail_depth(self.name) > 2 * self.batch_size:
                    # The live lane is behind: it goes first.
                    await self._sleep(0.05)
                    continue
                lo, hi = rng
                rows = buf.read(lo, hi, self.batch_size)
                if not rows:
                    buf.ack(self.name, lo, hi)
                    continue
                started = self.clock.seconds()
                if not await self._deliver_batch(rows, "backfill"):
                    # Probe on our own: with no live traffic nobody else would notice the recovery.
                    await self._sleep(self._backoff)
                    continue
                end = hi if len(rows) < self.batch_size else rows[-1][0] + 1
                buf.ack(self.name, lo, end)
                self.stats.backfilled += len(rows)
                pause = len(rows) / self.backfill_rate - (self.clock.seconds() - started)
                if pause > 0:
                    await self._sleep(pause)
        except CancelledError:
            return

    # -- delivery ----------------------------------------------------------------------------------

    async def _deliver_batch(self, rows: list[tuple], lane: str) -> bool:
        """Deliver rows (bisecting around malformed ones); False when the sink is unavailable."""
        try:
            await self._deliver(rows)
        except CancelledError:
            raise
        except Exception as exc:
            self._failed(exc, lane)
            return False
        self.stats.written += len(rows)
        self.stats.last_success = self.clock.seconds()
        if self.stats.failing:
            self.stats.failing = False
            self._recovering = True
            log.info("historian sink %r is back; %d points to catch up", self.name, self.buffer.depth(self.name))
            self._wake("backfill")
        self._backoff = self.retry_min
        return True

    async def _deliver(self, rows: list[tuple]) -> None:
        try:
            await self.sink.write_points(rows)
        except SinkRejected as exc:
            if len(rows) == 1:
                self.buffer.quarantine(self.name, rows[0], str(exc))
                self.stats.quarantined += 1
                log.warning("historian sink %r refused point %r at %d: quarantined (%s)",
                            self.name, rows[0][1], rows[0][2], exc)
                return
            mid = len(rows) // 2
            await self._deliver(rows[:mid])
            await self._deliver(rows[mid:])

    def _failed(self, exc: Exception, lane: str) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if not self.stats.failing:
            self.stats.failing = True
            log.error("historian sink %r unavailable (%s lane): %s; buffering", self.name, lane,
                      self.stats.last_error)
        else:
            log.debug("historian sink %r still unavailable: %s", self.name, self.stats.last_error)
