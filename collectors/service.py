"""The ``collectors`` component: Modbus and OPC UA collection into the live tag database."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from tagdb.values import BAD_OUT_OF_SERVICE

from .modbus.collector import ModbusCollector

log = logging.getLogger(__name__)


class CollectorsService(Service):
    """Polls Modbus devices and subscribes to OPC UA servers; owns their writes."""

    def __init__(self, modbus: ModbusCollector | None, opcua: Any | None) -> None:
        self.modbus = modbus
        self.opcua = opcua
        self.setName("collectors")

    def startService(self) -> Deferred | None:
        """Start polling and connecting; devices that are down come up Bad and are retried."""
        Service.startService(self)
        if self.modbus is not None:
            self.modbus.start()
        if self.opcua is not None:
            return Deferred.fromFuture(asyncio.ensure_future(self.opcua.start()))
        return None

    def stopService(self) -> Deferred | None:
        """Stop polling, close sessions and connections."""
        Service.stopService(self)
        if self.modbus is not None:
            self.modbus.stop()
        if self.opcua is not None:
            return Deferred.fromFuture(asyncio.ensure_future(self.opcua.stop()))
        return None


def _reporter(ctx):
    system = ctx.provides.get("system_tags")
    if system is None:
        return None

    def report(name: str, connected: bool, error: str = "", **metrics) -> None:
        system.report_device(name, connected, error, **metrics)
    return report


def from_config(ctx) -> CollectorsService | None:
    """Build collectors for every enabled Modbus/OPC UA device (None when the site has none)."""
    site = ctx.site
    protocols = {d.protocol for d in site.devices.values() if d.enabled}
    if not protocols & {"modbus", "opcua"}:
        return None
    for dev in site.devices.values():
        if not dev.enabled and dev.protocol in ("modbus", "opcua"):
            # Operators must see why these tags never update.
            ctx.tags.set_quality(dev.name, BAD_OUT_OF_SERVICE.with_detail("device disabled in the site"))
    reporter = _reporter(ctx)
    modbus = ModbusCollector(site, ctx.tags, ctx.reactor, reporter) if "modbus" in protocols else None
    opcua = None
    if "opcua" in protocols:
        from .opcua.collector import OpcUaCollector

        opcua = OpcUaCollector(site, ctx.tags, ctx.reactor, ctx.data_dir, reporter)
    for coll in (modbus, opcua):
        if coll is None:
            continue
        for name, dev in coll.devices.items():
            ctx.tags.register_writer(name, dev)
    return CollectorsService(modbus, opcua)
