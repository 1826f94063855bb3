"""The historian's front: accepts tag changes and events, answers history queries.

:class:`Historian` is what ``ctx.provides["history"]`` holds: the
:class:`tagdb.contracts.HistoryQuery` over the configured query sink, plus
``write_event`` for the alarm engine and ``status`` for the REST view.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Sequence

from ..contracts import AGGREGATES, HistoryBucket, HistoryEvent, HistoryPoint
from ..patterns import compile_pattern
from ..values import TagValue, utc
from .buffer import PointBuffer
from .errors import BufferStoreError, QueryError, QueryUnavailable
from .forwarder import SinkForwarder

log = logging.getLogger("spms.historian")

NEAR_FULL = 0.9


class Historian:
    """Store-and-forward front plus the one history query API (see the module docstring)."""

    def __init__(self, buffer: PointBuffer, forwarders: Sequence[SinkForwarder], query_sink: Any | None,
                 clock: Any, include: Sequence[str] = ("**",), exclude: Sequence[str] = (),
                 wanted: Callable[[str], bool] | None = None) -> None:
        self.buffer = buffer
        self.forwarders = {f.name: f for f in forwarders}
        self.query_sink = query_sink
        self.clock = clock
        self._include = [compile_pattern(p) for p in include]
        self._exclude = [compile_pattern(p) for p in exclude]
        self._extra = wanted
        self._wanted: dict[str, bool] = {}
        self._rates: dict[str, float] = {name: 0.0 for name in self.forwarders}
        self._last_sample: tuple[float, dict[str, int]] | None = None
        self._near_full = False
        self.append_failures = 0        # values lost because the buffer itself could not store them
        self._append_failing = False

    # -- writing -----------------------------------------------------------------------------

    def wants(self, path: str) -> bool:
        """True when ``path`` is historized (include/exclude patterns and the tag's ``history`` flag)."""
        w = self._wanted.get(path)
        if w is None:
            w = (any(m(path) for m in self._include) and not any(m(path) for m in self._exclude)
                 and (self._extra is None or self._extra(path)))
            self._wanted[path] = w
        return w

    def accept(self, values: Sequence[TagValue]) -> None:
        """Subscription callback: buffer the historized changes (durable when this returns)."""
        wanted = self.wants
        keep = [v for v in values if wanted(v.path)]
        if not keep:
            return
        try:
            self.buffer.append(keep)
        except BufferStoreError as exc:
            # The disk is full or broken: count what is lost, say so once, keep the tag DB running.
            self.append_failures += len(keep)
            if not self._append_failing:
                log.error("historian cannot buffer values (%s); they are lost until the buffer works again", exc)
            self._append_failing = True
            return
        if self._append_failing:
            log.info("historian buffer accepts values again (%d lost meanwhile)", self.append_failures)
            self._append_failing = False
        self._notify()

    def write_event(self, event: HistoryEvent) -> None:
        """Record an event (alarm state change ...) for every sink, through the buffer."""
        if not isinstance(event, HistoryEvent):
            raise TypeError(f"write_event takes a HistoryEvent, not {type(event).__name__}")
        utc(event.ts)  # naive timestamps are refused here, at the caller, not later in a sink
        self.buffer.append_event(event)
        self._notify()

    def _notify(self) -> None:
        for f in self.forwarders.values():
            f.notify()

    # -- queries -------------------------------------------------------------------------------

    def _sink(self):
        if self.query_sink is None:
            raise QueryUnavailable("no historian sink answers queries (historian.query_sink)")
        return self.query_sink

    @staticmethod
    def _check(paths: Sequence[str], start: datetime, end: datetime) -> list[str]:
        if isinstance(paths, str):
            paths = [paths]
        paths = list(dict.fromkeys(paths))
        if not paths:
            raise QueryError("no tags given", "tags")
        for name, ts in (("start", start), ("end", end)):
            if not isinstance(ts, datetime) or ts.tzinfo is None:
                raise QueryError(f"{name} must be an aware datetime, got {ts!r}", name)
        if end <= start:
            raise QueryError("end must be after start", "end")
        return paths

    async def raw(self, paths: Sequence[str], start: datetime, end: datetime,
                  limit: int | None = None) -> dict[str, list[HistoryPoint]]:
        """Stored values per tag in ``[start, end)`` (see :class:`tagdb.contracts.HistoryQuery`)."""
        paths = self._check(paths, start, end)
        return await self._sink().raw(paths, start, end, limit)

    async def aggregate(self, paths: Sequence[str], start: datetime, end: datetime, interval_s: float,
                        aggs: Sequence[str] = AGGREGATES) -> dict[str, list[HistoryBucket]]:
        """Aggregates per epoch-aligned interval over non-Bad values."""
        paths = self._check(paths, start, end)
        bad = [a for a in aggs if a not in AGGREGATES]
        if bad or not aggs:
            raise QueryError(f"unknown aggregate(s) {', '.join(bad) or '(none)'}; use {', '.join(AGGREGATES)}", "agg")
        if not interval_s or interval_s < 0.001:
            raise QueryError(f"interval must be at least 1 ms, got {interval_s!r}", "interval")
        return await self._sink().aggregate(paths, start, end, float(interval_s), tuple(aggs))

    async def value_at(self, path: str, ts: datetime) -> HistoryPoint | None:
        """The last stored value at or before ``ts``, with its timestamp and quality (billing reads)."""
        if not isinstance(ts, datetime) or ts.tzinfo is None:
            raise QueryError(f"ts must be an aware datetime, got {ts!r}", "ts")
        return await self._sink().value_at(path, ts)

    async def value_at_many(self, paths: Sequence[str], ts: datetime) -> dict[str, HistoryPoint | None]:
        """``value_at`` for many tags at one instant, batched by the sink (every meter at a billing boundary).

        One key per distinct path in the order given (None: no value at or
        before ``ts``); an empty list answers an empty dict.
        """
        if not isinstance(ts, datetime) or ts.tzinfo is None:
            raise QueryError(f"ts must be an aware datetime, got {ts!r}", "ts")
        if isinstance(paths, str):
            paths = [paths]
        paths = list(dict.fromkeys(paths))
        if not paths:
            return {}
        sink = self._sink()
        many = getattr(sink, "value_at_many", None)
        if many is None:
            # A sink from before the batched query: still correct, one query per tag.
            return {p: await sink.value_at(p, ts) for p in paths}
        return await many(paths, ts)

    async def readings_at(self, paths: Sequence[str], ts: datetime) -> dict[str, HistoryPoint | None]:
        """``value_at`` for several tags at one boundary (the REST ``at`` view); see :meth:`value_at_many`."""
        return await self.value_at_many(paths, ts)

    async def events(self, start: datetime, end: datetime,
                     sources: Sequence[str] | None = None) -> list[HistoryEvent]:
        """Events recorded with :meth:`write_event` in ``[start, end)``."""
        self._check(["-"], start, end)
        return await self._sink().events(start, end, sources)

    # -- figures ------------------------------------------------------------------------------------

    def sample_rates(self) -> None:
        """Update per-sink write rates (called once a second by the service)."""
        now = self.clock.seconds()
        written = {n: f.stats.written for n, f in self.forwarders.items()}
        if self._last_sample is not None:
            then, before = self._last_sample
            if now > then:
                for n in written:
                    self._rates[n] = (written[n] - before.get(n, 0)) / (now - then)
        self._last_sample = (now, written)
        fill = self.buffer.fill
        if fill >= NEAR_FULL and not self._near_full:
            log.error("historian buffer is %.0f %% full: sinks are not keeping up", fill * 100)
        elif fill < NEAR_FULL and self._near_full:
            log.info("historian buffer back below %.0f %%", NEAR_FULL * 100)
        self._near_full = fill >= NEAR_FULL

    def system_values(self) -> dict[str, Any]:
        """The ``_system/historian/...`` tag values (relative names)."""
        out: dict[str, Any] = {"buffer/fill_pct": round(self.buffer.fill * 100, 3),
                               "buffer/near_full": self.buffer.fill >= NEAR_FULL,
                               "buffer/points": self.buffer.count,
                               "buffer/append_failures": self.append_failures}
        for name, f in self.forwarders.items():
            out[f"{name}/queue_depth"] = self.buffer.depth(name)
            out[f"{name}/oldest_age_s"] = round(self.buffer.oldest_age(name), 3)
            out[f"{name}/write_rate"] = round(self._rates.get(name, 0.0), 1)
            out[f"{name}/last_error"] = f.stats.last_error
            out[f"{name}/dropped"] = self.buffer.counter(name, "dropped")
            out[f"{name}/quarantined"] = self.buffer.counter(name, "quarantined")
            out[f"{name}/connected"] = not f.stats.failing
        return out

    def status(self) -> dict[str, Any]:
        """The REST status view: buffer figures and one entry per sink."""
        sinks = {}
        for name, f in self.forwarders.items():
            sinks[name] = {"type": type(f.sink).__name__, "connected": not f.stats.failing,
                           "queue_depth": self.buffer.depth(name),
                           "backfill_depth": self.buffer.depth(name) - self.buffer.tail_depth(name),
                           "oldest_age_s": round(self.buffer.oldest_age(name), 3),
                           "write_rate": round(self._rates.get(name, 0.0), 1),
                           "written": f.stats.written, "backfilled": f.stats.backfilled,
                           "failures": f.stats.failures, "last_error": f.stats.last_error,
                           "dropped": self.buffer.counter(name, "dropped"),
                           "quarantined": self.buffer.counter(name, "quarantined")}
        return {"buffer": {"points": self.buffer.count, "max_points": self.buffer.max_points,
                           "fill_pct": round(self.buffer.fill * 100, 3),
                           "near_full": self.buffer.fill >= NEAR_FULL,
                           "max_age_s": self.buffer.max_age_s, "file": str(self.buffer.path)},
                "query_sink": getattr(self.query_sink, "name", None), "sinks": sinks}
