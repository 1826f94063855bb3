"""The ``simulators`` component: simulated equipment serving real protocol traffic on loopback.

It also holds the demo's simulated surroundings that are not equipment: the
mail sink (``simulators.mail_sink``), an SMTP server on loopback storing every
notification e-mail in ``<data_dir>/mail`` (see :mod:`collectors.sim.mail_sink`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred

from .sim.hub import SimulatorHub

log = logging.getLogger(__name__)


class SimulatorsService(MultiService):
    """Starts the site's simulators before the collectors connect to them.

    Children (the ``mail_sink`` service when configured) start first and
    stop last. The root starts ``alarms`` before ``simulators``, and the
    notification outbox makes its first delivery pass (which sends what an
    earlier run left pending) on the reactor's next turn. The root awaits each
    child's start and ``alarms`` and ``control`` start synchronously, so this
    ``startService`` runs in the same turn; the sink binds its port
    synchronously here, before the hub's asynchronous start yields, so that
    first pass already finds it listening (tests/collectors/test_mail_sink.py
    checks it). Should a component in between ever start asynchronously, the
    cost is one failed attempt that the outbox retries after
    ``alarms.outbox.retry_initial``.
    """

    def __init__(self, hub: SimulatorHub, mail_sink: Service | None = None) -> None:
        super().__init__()
        self.hub = hub
        self.setName("simulators")
        if mail_sink is not None:
            mail_sink.setServiceParent(self)

    @property
    def mail_sink(self):
        """The ``mail_sink`` child, or None when the site has none."""
        try:
            return self.getServiceNamed("mail_sink")
        except KeyError:
            return None

    def startService(self) -> Deferred:
        """Start the children (synchronously), then every simulator server and the physics loop."""
        Service.startService(self)
        for child in self:
            child.startService()
        return Deferred.fromFuture(asyncio.ensure_future(self.hub.start()))

    def stopService(self) -> Deferred:
        """Stop the physics and every server, then the children in reverse order."""
        Service.stopService(self)
        d = Deferred.fromFuture(asyncio.ensure_future(self.hub.stop()))

        def stop_children(result):
            children = [maybeDeferred(c.stopService) for c in reversed(list(self)) if c.running]
            return DeferredList(children, consumeErrors=True).addCallback(lambda _: result)

        return d.addBoth(stop_children)

    def health(self) -> dict:
        """The mail sink's state (when there is one) for ``/health``."""
        sink = self.mail_sink
        return {"mail_sink": sink.health()} if sink is not None else {}


def mail_sink_from_config(section: dict | None, reactor, data_dir: Path | str):
    """The ``mail_sink`` service of a validated ``simulators`` section (None when absent).

    ``port_env`` names an environment variable whose value, when it is a port
    number, overrides ``port``: the demo's e-mail channel reads the same one.
    """
    cfg = (section or {}).get("mail_sink")
    if not cfg:
        return None
    # Imported here: twisted.mail.smtp imports the global reactor at import time.
    from .sim.mail_sink import MailSinkService

    port = cfg["port"]
    if cfg.get("port_env") and os.environ.get(cfg["port_env"], "").strip().isdigit():
        port = int(os.environ[cfg["port_env"]])
    return MailSinkService(reactor, Path(data_dir) / "mail", cfg["address"], port, cfg["max_size"])


def from_config(ctx) -> SimulatorsService | None:
    """Build the simulators of ``ctx.site``'s ``simulators:`` section (None when absent/disabled).

    The hub is published as ``ctx.provides["simulators"]``: tests and tools use
    it to inject faults (see docs/simulators.md); the mail sink, when
    configured, as ``ctx.provides["mail_sink"]``.
    """
    section = ctx.site.section("simulators")
    if not section or not section.get("enabled", True):
        return None
    hub = SimulatorHub(ctx.site, ctx.reactor, ctx.data_dir)
    ctx.provides["simulators"] = hub
    sink = mail_sink_from_config(section, ctx.reactor, ctx.data_dir)
    if sink is not None:
        ctx.provides["mail_sink"] = sink
    return SimulatorsService(hub, sink)
