"""The bundled demo property, and moving its simulated endpoints to free ports.

Tests of every package can run the demo's simulated equipment side by side:
``load_demo()`` returns the demo site with every simulated endpoint shifted by a
port offset at which all its ports are free right now.
"""

from __future__ import annotations

import dataclasses
import random
import socket
from pathlib import Path
from types import MappingProxyType

from ..endpoints import simulated_devices, split_endpoint

DEMO_DIR = Path(__file__).resolve().parents[2] / "examples" / "demo"


def with_port_offset(site, offset: int):
    """The same site with ``simulators.port_offset`` set to ``offset`` (collectors follow it)."""
    sections = dict(site.sections)
    section = dict(sections.get("simulators") or {})
    section["port_offset"] = int(offset)
    sections["simulators"] = section
    return dataclasses.replace(site, sections=MappingProxyType(sections))


def with_mail_sink_port(site, port: int):
    """The same site with ``simulators.mail_sink.port`` set to ``port`` (unchanged without a sink)."""
    sections = dict(site.sections)
    section = dict(sections.get("simulators") or {})
    if not section.get("mail_sink"):
        return site
    section["mail_sink"] = {**section["mail_sink"], "port": int(port)}
    sections["simulators"] = section
    return dataclasses.replace(site, sections=MappingProxyType(sections))


def simulated_ports(site) -> set[int]:
    """The ports the site's simulators listen on (without any offset)."""
    names = simulated_devices(site)
    return {split_endpoint(d.endpoint, 502)[1] for d in site.devices.values() if d.name in names}


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ephemeral_low(default: int = 32768) -> int:
    """The first port the kernel hands out for outgoing connections (Linux: ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def free_port_offset(site, tries: int = 200, rng: random.Random | None = None) -> int:
    """An offset at which every simulated port of ``site`` is free on 127.0.0.1 now.

    The ports stay below the ephemeral range: a port free now could otherwise be
    taken by any outgoing connection (a database client, another test) before the
    simulator binds it.
    """
    ports = simulated_ports(site)
    rng = rng or random.Random()
    lo = max(1024 - min(ports, default=0), 20000 - min(ports, default=0))
    hi = min(60000, ephemeral_low()) - max(ports, default=0)
    for _ in range(tries):
        offset = rng.randrange(lo, hi)
        if all(_free(p + offset) for p in ports):
            return offset
    raise RuntimeError("no free port range for the demo simulators")


def load_demo(port_offset: int | None = None, path: Path | str = DEMO_DIR):
    """The demo site; ``port_offset`` None picks free ports (0 keeps the documented ones).

    Picking free ports also moves the mail sink to a free port (its documented
    one is the e-mail channel's, 2525). The environment variables
    SPMS_SIM_PORT_OFFSET and SPMS_DEMO_SMTP_PORT, when set, still win at run time.
    """
    from tagdb.site.loader import load_site

    site = load_site(path)
    if port_offset is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            site = with_mail_sink_port(site, s.getsockname()[1])
    offset = free_port_offset(site) if port_offset is None else port_offset
    return with_port_offset(site, offset) if offset else site
