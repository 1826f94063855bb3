"""The finance part of the ``business`` component: REST resources and the periodic late-fee/dunning job.

:func:`install` is called by ``business.service.from_config`` after the business
API exists; it opts out when the site has no ``finance:`` section (or
``enabled: false``). The job runs every ``finance.dunning.check_every`` on the
injected reactor clock.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from .app import FinanceApp

log = logging.getLogger(__name__)


class FinanceService(Service):
    """Runs :meth:`FinanceApp.daily` periodically (late fees, reminders)."""

    def __init__(self, app: FinanceApp, reactor: Any, every: float) -> None:
        self.app = app
        self.setName("finance")
        self._loop = LoopingCall(self._tick)
        self._loop.clock = reactor
        self.every = every
        self._failing = False
        self._current = None

    def startService(self) -> None:
        """Start the periodic job (first run after one interval: the business seed runs first)."""
        super().startService()
        self._loop.start(self.every, now=False)

    def stopService(self):
        """Stop the job; the Deferred fires when a run in progress has finished."""
        if self._loop.running:
            self._loop.stop()
        super().stopService()
        current, self._current = self._current, None
        if current is not None and not current.called:
            done = Deferred()
            current.addBoth(lambda r: done.callback(None))
            return done
        return None

    def _tick(self):
        d = Deferred.fromCoroutine(self.app.daily())
        self._current = d

        def ok(result):
            if self._failing:
                log.info("finance: periodic job recovered")
            self._failing = False
            if result.get("late_fee_lines") or result.get("reminders"):
                log.info("finance: %s", result)

        def failed(f):
            if not self._failing:
                log.error("finance: periodic job failed: %s: %s", f.type.__name__, f.getErrorMessage())
            else:
                log.debug("finance: periodic job still failing: %s", f.getErrorMessage())
            self._failing = True

        d.addCallbacks(ok, failed)
        return d


def install(ctx: Any, api: Any, parent: Any) -> FinanceApp | None:
    """Mount ``/api/v1/finance`` and add the finance job under ``parent``; None when finance is off."""
    section = ctx.site.section("finance")
    if section is None or section.get("enabled") is False:
        return None
    from .api import FinanceResource, operations

    app = FinanceApp.from_site(api.db, ctx.site, api.clock, history=lambda: ctx.provides.get("history"),
                               outbox=lambda: ctx.provides.get("notify_outbox"))
    ctx.provides["finance"] = app
    ctx.mount_api("finance", FinanceResource(api, app), operations=operations())
    every = float((section.get("dunning") or {}).get("check_every") or 3600.0)
    FinanceService(app, ctx.reactor, every).setServiceParent(parent)
    return app
