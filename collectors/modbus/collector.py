"""The Modbus side of the collectors: shared links per endpoint and one poller per device."""

from __future__ import annotations

import logging
from typing import Any, Callable

from ..endpoints import effective_endpoint, split_endpoint
from .device import ModbusDevice
from .link import ModbusLink

log = logging.getLogger(__name__)


class ModbusCollector:
    """Every enabled Modbus device of a site, polling into ``db``."""

    def __init__(self, site, db: Any, clock: Any, reporter: Callable[..., None] | None = None,
                 devices: list[str] | None = None) -> None:
        self.links: dict[tuple[str, int], ModbusLink] = {}
        self.devices: dict[str, ModbusDevice] = {}
        tags_by_device: dict[str, list] = {}
        for t in site.tags:
            if t.device:
                tags_by_device.setdefault(t.device, []).append(t)
        for dev in site.devices.values():
            if dev.protocol != "modbus" or not dev.enabled or (devices is not None and dev.name not in devices):
                continue
            host, port = split_endpoint(effective_endpoint(site, dev), 502)
            opts = dict(dev.options or {})
            link = self.links.get((host, port))
            if link is None:
                link = self.links[(host, port)] = ModbusLink(
                    host, port, clock, timeout=dev.timeout, retries=dev.retries,
                    backoff_initial=float(opts.get("backoff_initial") or 0.5),
                    backoff_max=float(opts.get("backoff_max") or 30.0), name=f"{host}:{port}")
            self.devices[dev.name] = ModbusDevice(dev, tags_by_device.get(dev.name, []), link, db, clock, reporter)

    def start(self) -> None:
        """Start polling every device."""
        for d in self.devices.values():
            d.start()

    def stop(self) -> None:
        """Stop polling and close every connection."""
        for d in self.devices.values():
            d.stop()
        for link in self.links.values():
            link.close()
