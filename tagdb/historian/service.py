"""The ``historian`` component: buffer, sinks, forwarders, the history API and its REST view.

Started after ``tagdb`` (it subscribes to the live tag database) and before
alarms and collectors (so the first value a collector reads is already
buffered, and the alarm engine finds ``ctx.provides["history"]``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThreadPool

from .buffer import PointBuffer
from .forwarder import SinkForwarder
from .history import Historian
from .points import PointSchema
from .schema import default_query_sink
from .sinks import build_sink

log = logging.getLogger("spms.historian")

HOUSEKEEPING_S = 1.0
PRUNE_EVERY_S = 3600.0
CHECKPOINT_EVERY_S = 5.0


class HistorianService(Service):
    """Runs the forwarders and housekeeping; subscribes the historian to the tag database."""

    def __init__(self, historian: Historian, sinks: list, clock: Any, tags: Any = None,
                 system_tags: Any = None) -> None:
        self.setName("historian")
        self.historian = historian
        self.sinks = sinks
        self.clock = clock
        self.tags = tags
        self.system_tags = system_tags
        self._sub = None
        self._remove_source = None
        self._loop = LoopingCall(self._housekeeping)
        self._loop.clock = clock
        self._last_prune = None
        self._last_checkpoint = 0.0
        self._checkpointing = False

    def startService(self) -> None:
        """Start forwarders, then subscribe (so nothing changes before we listen)."""
        super().startService()
        for f in self.historian.forwarders.values():
            f.start()
        if self.tags is not None:
            self._sub = self.tags.subscribe("**", self.historian.accept)
        if self.system_tags is not None:
            self._remove_source = self.system_tags.add_source("historian", self.historian.system_values)
        self._loop.start(HOUSEKEEPING_S, now=False).addErrback(
            lambda f: log.error("historian housekeeping stopped: %s", f.getTraceback()))

    def stopService(self) -> Deferred:
        """Unsubscribe, stop forwarders, close sinks and the buffer (all data is already durable)."""
        super().stopService()
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        if self._sub is not None:
            self._sub.cancel()
            self._sub = None
        if self._remove_source is not None:
            self._remove_source()
        if self._loop.running:
            self._loop.stop()
        for f in self.historian.forwarders.values():
            await f.stop()
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception:
                    log.exception("closing historian sink %r failed", sink.name)
        self.historian.buffer.close()

    def _housekeeping(self) -> None:
        h = self.historian
        h.sample_rates()
        h.buffer.trim()
        h.buffer.enforce_age()
        now = self.clock.seconds()
        if not self._checkpointing and now - self._last_checkpoint >= CHECKPOINT_EVERY_S:
            self._last_checkpoint = now
            self._checkpointing = True
            if hasattr(self.clock, "getThreadPool"):
                d = deferToThreadPool(self.clock, self.clock.getThreadPool(), h.buffer.checkpoint)
            else:   # a test clock has no threads: checkpoint inline
                d = maybeDeferred(h.buffer.checkpoint)
            d.addErrback(lambda f: log.warning("historian buffer checkpoint failed: %s", f.value))
            d.addBoth(lambda _: setattr(self, "_checkpointing", False))
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            for sink in self.sinks:
                prune = getattr(sink, "prune", None)
                if prune is not None:
                    Deferred.fromCoroutine(prune(int(now * 1e9))).addErrback(
                        lambda f, s=sink: log.error("retention pruning of %r failed: %s", s.name, f.value))

    def health(self) -> dict:
        """Merged into ``/health``: per-sink connection and queue depth."""
        st = self.historian.status()
        return {"buffer_fill_pct": st["buffer"]["fill_pct"],
                "sinks": {n: {"connected": s["connected"], "queue_depth": s["queue_depth"]}
                          for n, s in st["sinks"].items()}}


def build_historian(section: dict, *, reactor: Any, data_dir: Path, site: Any = None,
                    wanted: Any = None) -> tuple[Historian, list]:
    """Build buffer, sinks, forwarders and the Historian from a validated ``historian:`` section."""
    data_dir = Path(data_dir)
    schema = PointSchema(site)
    sinks = [build_sink(name, conf, reactor=reactor, data_dir=data_dir, schema=schema)
             for name, conf in section["sinks"].items()]
    buf_conf = section["buffer"]
    buffer = PointBuffer(data_dir / buf_conf["file"], [s.name for s in sinks], max_points=buf_conf["max_points"],
                         max_age_s=buf_conf["max_age"], sync=buf_conf["sync"], now=reactor.seconds)
    forwarders = [SinkForwarder(s, buffer, reactor, batch_size=buf_conf["batch_size"],
                                backfill_rate=section["backfill"]["max_rate"],
                                retry_min=section["retry"]["min"], retry_max=section["retry"]["max"])
                  for s in sinks]
    q = default_query_sink(section)
    query_sink = next((s for s in sinks if s.name == q), None)
    historian = Historian(buffer, forwarders, query_sink, reactor, include=section["include"],
                          exclude=section["exclude"], wanted=wanted)
    return historian, sinks


def from_config(ctx) -> HistorianService | None:
    """The ``historian`` service, or None when the site has no ``historian:`` section.

    Publishes the history API as ``ctx.provides["history"]`` and mounts
    ``/api/v1/history``.
    """
    section = ctx.site.section("historian")
    if section is None:
        return None
    site = ctx.site

    def wanted(path: str) -> bool:
        try:
            return site.tag(path).history
        except KeyError:
            return True  # system and run-time tags have no spec: historize them

    historian, sinks = build_historian(section, reactor=ctx.reactor, data_dir=Path(ctx.data_dir), site=site,
                                       wanted=wanted)
    ctx.provides["history"] = historian
    # An ISA-18.2 alarm at 90 % full; the alarm system is built after us and takes the request (if it runs).
    ctx.provides.setdefault("system_alarm_requests", []).append(
        {"tag": "_system/historian/buffer/near_full", "type": "digital", "name": "NEAR_FULL", "priority": "high",
         "message": "Historian buffer 90 % full: sinks are not keeping up", "origin": "historian"})
    from .rest import OPERATIONS, HistoryResource
    ctx.mount_api("history", HistoryResource(historian, ctx, section["api"]), operations=OPERATIONS)
    return HistorianService(historian, sinks, ctx.reactor, tags=ctx.tags,
                            system_tags=ctx.provides.get("system_tags"))

