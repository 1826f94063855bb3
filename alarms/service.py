"""The ``alarms`` component: builds the engine, journal, notifications, KPIs and REST API.

Started after tagdb, database and historian (it journals into the business
database and writes events to the historian) and before control and the
collectors, so no first sample is evaluated before the engine listens.
Publishes ``ctx.provides["alarms"]`` (the engine, whose ``define_system_alarm``
components call for alarms on their ``_system/...`` tags), ``["notify_outbox"]``
and ``["notify_channels"]`` (reusable by the business layer's notices). Takes the
system alarm requests of components built before it from
``ctx.provides["system_alarm_requests"]`` (see :mod:`alarms.system`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from twisted.application.service import Service
from twisted.internet.task import LoopingCall

from tagdb.contracts import HistoryEvent

from .api import OPERATIONS, AlarmsResource
from .engine import AlarmEngine
from .errors import AlarmConfigError
from .events import AlarmTransition
from .journal import Journal, JournalStore
from .kpi import KpiTracker
from .notify import Notifier, Outbox, build_channels
from .rules import compile_site
from .schema import section_defaults, validate_site
from .system import take_requests
from .tables import create_tables

log = logging.getLogger(__name__)

_EVENT_STATE = {"unack_active": "active", "ack_active": "acknowledged", "rtn_unack": "cleared",
                "normal": "normal", "latched": "latched", "shelved": "shelved", "suppressed": "suppressed",
                "out_of_service": "out_of_service"}


def history_event(tr: AlarmTransition) -> HistoryEvent:
    """The historian event (Grafana annotation) of a transition."""
    return HistoryEvent(ts=tr.ts, source=tr.alarm_id, state=_EVENT_STATE[tr.state_after.value],
                        message=tr.message, priority=tr.priority, kind="alarm", user=tr.user or "",
                        value=tr.value if isinstance(tr.value, (int, float, str, bool)) else None,
                        attributes={"transition": tr.kind.value, "before": tr.state_before.value,
                                    "area": tr.area or "", "equipment": tr.equipment or "",
                                    "comment": tr.comment or ""})


class AlarmSystem:
    """Everything of the alarm package wired together (also usable without a server, in tests)."""

    def __init__(self, site, clock, db_engine, tags=None, events=None, history=None, system_tags=None,
                 channels=None, runner=None) -> None:
        self.site = site
        self.clock = clock
        self.section = section_defaults(site.section("alarms"))
        self.rules = compile_site(site)
        self.store = JournalStore(db_engine)
        self.history = history
        self.journal = Journal(self.store, clock, on_written=self._to_history if history is not None else None,
                               runner=runner)
        self.engine = AlarmEngine(self.rules, clock, store=self.journal)
        self.tags = tags
        self.events = events
        self.system_tags = system_tags
        ob = self.section["outbox"]
        self.channels = channels if channels is not None else build_channels(self.section["channels"], clock)
        self.outbox = Outbox(db_engine, clock, self.channels, ob["retry_initial"], ob["retry_max"],
                             ob["max_attempts"])
        self.notifier = Notifier(self.section, self.outbox.enqueue, clock, site.timezone,
                                 should_notify=lambda aid: self.rules.defs[aid].notify,
                                 channel_types={n: c["type"] for n, c in self.section["channels"].items()})
        k = self.section["kpi"]
        self.kpi = KpiTracker(clock, self.engine, self.section["positions"], k["flood_threshold"],
                              k["chatter_count"], k["chatter_window"], k["stale_after"])
        self.engine.add_listener(self.journal)
        if events is not None:
            self.engine.add_listener(events.publish)
        self.engine.add_listener(self.notifier)
        self.engine.add_listener(self.kpi)
        self._kpi_loop: LoopingCall | None = None

    def _to_history(self, transitions: list[AlarmTransition]) -> None:
        for tr in transitions:
            self.history.write_event(history_event(tr))

    def start(self) -> None:
        """Restore states, reload KPI history, subscribe to tags, start the outbox and the KPI tags."""
        restored = self.engine.restore()
        since = int((self.clock.seconds() - self.kpi.horizon) * 1e9)
        self.kpi.load(self.store.activations_since(since))
        if self.tags is not None:
            self.engine.start(self.tags)
        self.outbox.start()
        if self.system_tags is not None:
            self._kpi_loop = LoopingCall(self.publish_kpis)
            self._kpi_loop.clock = self.clock
            self._kpi_loop.start(self.section["kpi"]["interval"], now=True).addErrback(
                lambda f: log.error("alarm KPI tags stopped: %s", f.getErrorMessage()))
        log.info("alarms: %d alarms (%d limit rules), %d restored states", len(self.engine.records),
                 len(self.rules.limits), restored)

    def publish_kpis(self) -> None:
        """Write the KPI values as ``_system/alarms/...`` tags."""
        self.system_tags.publish("alarms", self.kpi.system_values())

    def stop(self):
        """Stop evaluating and timers, flush the journal (pending notifications stay in the outbox).

        Returns a Deferred that fires when the journal holds every transition.
        """
        if self._kpi_loop is not None and self._kpi_loop.running:
            self._kpi_loop.stop()
        self.engine.stop()
        self.notifier.stop()
        self.outbox.stop()
        return self.journal.stop()


class AlarmService(Service):
    """The named ``alarms`` service."""

    def __init__(self, system: AlarmSystem, provides: dict | None = None) -> None:
        self.system = system
        self.provides = provides
        self.setName("alarms")

    def startService(self) -> None:
        """Start the alarm system (with the system alarms components requested meanwhile)."""
        super().startService()
        if self.provides is not None:
            take_requests(self.provides, self.system.engine)
        self.system.start()

    def stopService(self):
        """Stop the alarm system; fires once the journal is flushed."""
        super().stopService()
        return self.system.stop()


def journal_engine(ctx: Any, section: dict):
    """The SQLAlchemy engine of the journal: the business database, or a standalone one."""
    db = ctx.provides.get("database")
    if db is not None and not section.get("database"):
        return db.engine  # the business migrations created the alarm tables
    url = section.get("database") or f"sqlite:///{Path(ctx.data_dir) / 'alarms.db'}"
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"check_same_thread": False}} if url.startswith("sqlite") else {}
    engine = create_engine(url, **kwargs)   # written from the journal's worker thread
    create_tables(engine)
    return engine


def thread_runner(reactor):
    """Run blocking journal writes on the reactor's thread pool (None for a test Clock)."""
    if not hasattr(reactor, "getThreadPool"):
        return None
    from twisted.internet.threads import deferToThreadPool

    return lambda fn: deferToThreadPool(reactor, reactor.getThreadPool(), fn)


def from_config(ctx: Any) -> AlarmService | None:
    """Build the alarm component; None when the site disables it or has no alarm rules at all."""
    raw = ctx.site.section("alarms")
    if raw is not None and raw.get("enabled") is False:
        return None
    has_rules = any(t.alarms for t in ctx.site.tags) or any(e.alarms for e in ctx.site.equipment)
    if raw is None and not has_rules:
        return None
    if raw is None:
        # The loader runs validate_site only for sites with an alarms: key; rules on
        # tags alone must not skip the cross-reference checks.
        errors = validate_site(ctx.site)
        if errors:
            raise AlarmConfigError(errors)
    section = section_defaults(raw)
    system = AlarmSystem(ctx.site, ctx.reactor, journal_engine(ctx, section), tags=ctx.tags, events=ctx.events,
                         history=ctx.provides.get("history"), system_tags=ctx.provides.get("system_tags"),
                         runner=thread_runner(ctx.reactor))
    ctx.provides["alarms"] = system.engine
    take_requests(ctx.provides, system.engine)   # from components built before us (the historian)
    ctx.provides["alarm_system"] = system
    ctx.provides["notify_outbox"] = system.outbox
    ctx.provides["notify_channels"] = system.channels
    ctx.mount_api("alarms", AlarmsResource(ctx, system.engine, system.store, system.kpi, system.outbox), OPERATIONS)
    return AlarmService(system, ctx.provides)
