"""System tags: the server reports on itself under ``_system/`` like any equipment.

``SystemTags`` owns the core tags (uptime, tag count, update and change rates,
subscribers), per-device health under ``_system/devices/<name>/`` and any
component's own tags under ``_system/<component>/``. Tags are created on first
use, typed from the first value. ``SystemTagsService`` refreshes them
periodically with a ``LoopingCall`` on the injected clock.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Mapping

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from .columns import ns_to_utc
from .database import TagDatabase
from .errors import TagDbError
from .site.model import TagSpec
from .values import GOOD, Quality, Scalar, TagValue, data_type_of

log = logging.getLogger(__name__)

PREFIX = "_system/"
CORE_TAGS = {
    "uptime_s": ("float64", "s", "Seconds since the tag server started"),
    "tag_count": ("int64", "", "Number of tags in the live database"),
    "updates_per_s": ("float64", "1/s", "Samples received per second (published or filtered)"),
    "changes_per_s": ("float64", "1/s", "Changes published per second (past deadband)"),
    "subscribers": ("int64", "", "Live tag subscriptions"),
}
DEVICE_TAGS = {
    "connected": ("bool", "", "The collector is talking to the device"),
    "last_error": ("string", "", "Last communication error (empty when healthy)"),
    "disconnects": ("int64", "", "Connected-to-disconnected transitions since start"),
}

Source = Callable[[], Mapping[str, Scalar]]


def _data_type(value: Scalar) -> str:
    data_type = data_type_of(value)
    if data_type is None:
        raise TagDbError(f"system tags hold bool, int, float or str, not {type(value).__name__} {value!r}")
    return data_type


def _segment(name: str, what: str) -> str:
    """``name`` checked for use in a system tag path (a device name is one segment)."""
    clean = name.strip("/") if isinstance(name, str) else ""
    if (not clean or "*" in clean or "?" in clean or "//" in clean
            or (what == "device" and "/" in clean)):
        raise TagDbError(f"bad {what} name {name!r} for a system tag")
    return clean


class SystemTags:
    """Publishes ``_system/...`` tags into ``db``; other components call it too.

    Collectors call ``report_device``; the historian, alarms and others either
    ``publish(component, {...})`` when something happens or register an
    ``add_source(component, fn)`` polled on every refresh.
    """

    def __init__(self, db: TagDatabase, clock: IReactorTime) -> None:
        self._db = db
        self._clock = clock
        self._started = clock.seconds()
        self._sources: dict[str, Source] = {}
        self._failing: set[str] = set()
        self._connected: dict[str, bool] = {}
        self._disconnects: dict[str, int] = {}
        self._last = (self._started, db.stats.updates, db.stats.changes)
        self._ensure({PREFIX + name: info for name, info in CORE_TAGS.items()})

    def _ensure(self, tags: Mapping[str, tuple[str, str, str]]) -> None:
        """Create the tags of ``tags`` (path -> (type, units, description)) that do not exist."""
        new = [TagSpec(path=path, data_type=dt, device=None, address=None, units=units,
                       description=desc, access="r")
               for path, (dt, units, desc) in tags.items() if path not in self._db]
        if new:
            self._db.add_tags(new)

    def publish(self, component: str, values: Mapping[str, Scalar], quality: Quality = GOOD) -> None:
        """Set ``_system/<component>/<name>`` for each item (tags created on first use).

        A None value clears an existing tag; for a tag not yet created it has
        no type to create it with and is skipped.
        """
        base = PREFIX + _segment(component, "component") + "/"
        for name in values:
            _segment(name, "tag")
        self._ensure({base + name: (_data_type(v), "", f"{component} {name}")
                      for name, v in values.items() if v is not None})
        self._write({base + name: v for name, v in values.items() if base + name in self._db}, quality)

    def _write(self, values: Mapping[str, Scalar], quality: Quality = GOOD) -> None:
        ts = ns_to_utc(self._db.now_ns())
        self._db.update([TagValue(path, v, quality, ts, ts) for path, v in values.items()])

    def declare_devices(self, names: Iterable[str]) -> None:
        """Create the health tags of ``names`` (Bad/not-yet-read until first reported)."""
        for name in names:
            base = f"{PREFIX}devices/{_segment(name, 'device')}/"
            self._ensure({base + k: info for k, info in DEVICE_TAGS.items()})

    def report_device(self, name: str, connected: bool, last_error: str = "", **metrics: Scalar) -> None:
        """Publish a device's health: connected, last error, disconnect count and any metrics.

        ``metrics`` (e.g. ``response_ms=3.2, polls=120``) become further tags
        under ``_system/devices/<name>/``.
        """
        self.declare_devices([name])
        was = self._connected.get(name)
        if was and not connected:
            self._disconnects[name] = self._disconnects.get(name, 0) + 1
        self._connected[name] = bool(connected)
        values: dict[str, Scalar] = {"connected": bool(connected), "last_error": last_error or "",
                                     "disconnects": self._disconnects.get(name, 0)}
        values.update(metrics)
        self.publish(f"devices/{name}", values)

    def add_source(self, component: str, source: Source) -> Callable[[], None]:
        """Poll ``source()`` on every refresh and publish its dict under ``_system/<component>/``.

        Returns a function that removes the source.
        """
        _segment(component, "component")
        self._sources[component] = source

        def remove() -> None:
            if self._sources.get(component) is source:
                del self._sources[component]

        return remove

    def refresh(self) -> None:
        """Recompute the core tags and poll every source (called by the service's LoopingCall)."""
        now = self._clock.seconds()
        stats = self._db.stats
        then, updates, changes = self._last
        dt = now - then
        core: dict[str, Scalar] = {
            PREFIX + "uptime_s": float(now - self._started),
            PREFIX + "tag_count": len(self._db),
            PREFIX + "subscribers": self._db.subscriber_count,
        }
        if dt > 0:
            core[PREFIX + "updates_per_s"] = (stats.updates - updates) / dt
            core[PREFIX + "changes_per_s"] = (stats.changes - changes) / dt
            self._last = (now, stats.updates, stats.changes)
        self._write(core)
        for component, source in list(self._sources.items()):
            try:
                self.publish(component, source())
            except Exception:
                # Once at ERROR, then quietly: this runs every second.
                if component in self._failing:
                    log.debug("system tag source %r still failing", component, exc_info=True)
                else:
                    self._failing.add(component)
                    log.exception("system tag source %r failed", component)
            else:
                if component in self._failing:
                    self._failing.discard(component)
                    log.info("system tag source %r works again", component)


class SystemTagsService(Service):
    """Refreshes the system tags every ``interval`` seconds while running (service ``tagdb``)."""

    def __init__(self, system: SystemTags, clock: IReactorTime, interval: float = 1.0,
                 name: str = "tagdb") -> None:
        self.system = system
        self.interval = interval
        self._loop = LoopingCall(system.refresh)
        self._loop.clock = clock
        self.closers: list = []   # called on stop, after the last refresh (e.g. the audit file)
        self.setName(name)

    def startService(self) -> None:
        """Start the periodic refresh (first refresh immediately)."""
        super().startService()
        d = self._loop.start(self.interval, now=True)
        d.addErrback(lambda f: log.error("system tag refresh stopped: %s", f.getTraceback()))

    def health(self) -> dict:
        """Figures for the server's /health: tag count, subscribers, the last rates."""
        db = self.system._db
        rates = {name: db.value(PREFIX + name) for name in ("updates_per_s", "changes_per_s")}
        return {"tags": len(db), "subscribers": db.subscriber_count, **rates}

    def stopService(self):
        """Stop the periodic refresh."""
        if self._loop.running:
            self._loop.stop()
        for close in self.closers:
            close()
        return super().stopService()
