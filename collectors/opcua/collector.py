"""The OPC UA side of the collectors: one supervised session per OPC UA device."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Callable

from ..endpoints import effective_endpoint
from .device import OpcUaDevice

log = logging.getLogger(__name__)


class OpcUaCollector:
    """Every enabled OPC UA device of a site, subscribed into ``db``."""

    def __init__(self, site, db: Any, clock: Any, data_dir: Path | str,
                 reporter: Callable[..., None] | None = None, devices: list[str] | None = None) -> None:
        tags_by_device: dict[str, list] = {}
        for t in site.tags:
            if t.device:
                tags_by_device.setdefault(t.device, []).append(t)
        self.devices: dict[str, OpcUaDevice] = {}
        for dev in site.devices.values():
            if dev.protocol != "opcua" or not dev.enabled or (devices is not None and dev.name not in devices):
                continue
            self.devices[dev.name] = OpcUaDevice(dev, tags_by_device.get(dev.name, []), db, clock, Path(data_dir),
                                                 effective_endpoint(site, dev), reporter)

    async def start(self) -> None:
        """Start every device's supervisor (connections come up in the background)."""
        for d in self.devices.values():
            d.start()

    async def stop(self) -> None:
        """Close every session."""
        await asyncio.gather(*(d.stop() for d in self.devices.values()))
