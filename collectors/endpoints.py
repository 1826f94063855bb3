"""Endpoint parsing, and the port offset that lets the demo run on free ports."""

from __future__ import annotations

import os
from urllib.parse import urlsplit


def split_endpoint(endpoint: str, default_port: int) -> tuple[str, int]:
    """``tcp://host:port`` or ``opc.tcp://host:port/path`` → (host, port)."""
    parts = urlsplit(endpoint)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def with_port(endpoint: str, port: int) -> str:
    """The same endpoint on another port (path kept)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or "127.0.0.1"
    return parts._replace(netloc=f"{host}:{port}").geturl()


def simulated_devices(site) -> set[str]:
    """Names of the devices the site's ``simulators:`` section serves (enabled instances)."""
    section = site.section("simulators") or {}
    if not section or not section.get("enabled", True):
        return set()
    from .schema import served_devices

    return {d.name for inst in (section.get("instances") or {}).values() if inst.get("enabled", True)
            for d in served_devices(site, inst)}


#: Environment variable that overrides ``simulators.port_offset`` (e.g. two demos side by side).
PORT_OFFSET_ENV = "SPMS_SIM_PORT_OFFSET"


def port_offset(site) -> int:
    """The port offset of simulated devices: $SPMS_SIM_PORT_OFFSET, else ``simulators.port_offset``."""
    section = site.section("simulators") or {}
    if not section or not section.get("enabled", True):
        return 0
    env = os.environ.get(PORT_OFFSET_ENV, "").strip()
    if env:
        try:
            return int(env)
        except ValueError:
            raise ValueError(f"{PORT_OFFSET_ENV}={env!r} is not an integer") from None
    return int(section.get("port_offset") or 0)


def effective_endpoint(site, device) -> str:
    """The endpoint to use for ``device``: simulated devices move by the port offset."""
    offset = port_offset(site)
    if not offset or device.name not in simulated_devices(site):
        return device.endpoint
    default = 4840 if device.protocol == "opcua" else 502
    _, port = split_endpoint(device.endpoint, default)
    return with_port(device.endpoint, port + offset)
