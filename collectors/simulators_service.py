"""The ``simulators`` component: simulated equipment serving real protocol traffic on loopback."""

from __future__ import annotations

import asyncio
import logging

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from .sim.hub import SimulatorHub

log = logging.getLogger(__name__)


class SimulatorsService(Service):
    """Starts the site's simulators before the collectors connect to them."""

    def __init__(self, hub: SimulatorHub) -> None:
        self.hub = hub
        self.setName("simulators")

    def startService(self) -> Deferred:
        """Start every simulator server and the physics loop."""
        Service.startService(self)
        return Deferred.fromFuture(asyncio.ensure_future(self.hub.start()))

    def stopService(self) -> Deferred:
        """Stop the physics and every server."""
        Service.stopService(self)
        return Deferred.fromFuture(asyncio.ensure_future(self.hub.stop()))


def from_config(ctx) -> SimulatorsService | None:
    """Build the simulators of ``ctx.site``'s ``simulators:`` section (None when absent/disabled).

    The hub is published as ``ctx.provides["simulators"]``: tests and tools use
    it to inject faults (see docs/simulators.md).
    """
    section = ctx.site.section("simulators")
    if not section or not section.get("enabled", True):
        return None
    hub = SimulatorHub(ctx.site, ctx.reactor, ctx.data_dir)
    ctx.provides["simulators"] = hub
    return SimulatorsService(hub)
