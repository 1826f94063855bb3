"""The demo estate running in-process for HMI tests and the HMI benchmark.

The whole service tree (tag database, business database, historian, alarms,
control, simulators, collectors, HMI, business, API) runs on the shared asyncio
reactor with every port free: the simulators moved by a free port offset, the
HMI, the REST API and the manager views on free ports, stores in ``tmp``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

from collectors.sim.demo import load_demo
from collectors.testing import free_port
from collectors.testing import wait_deferred as wait
from tagdb.site.errors import Loc

VIEWER = ("viewer", "Viewer-Pass-2026")     # the read-only viewer role: hmi.view without hmi.command
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _check(schema_module: str, raw: dict, key: str) -> dict:
    import importlib
    mod = importlib.import_module(schema_module)
    clean, errors = mod.SECTION.check(raw, key, Loc("test"))
    assert not errors, errors
    return clean


def demo_site(tmp: Path, hmi: dict | None = None, historian: bool = True, scan: str | None = None,
              scan_devices: tuple[str, ...] = (), business_web: bool = False):
    """The demo site on free ports with an embedded historian and the business DB in ``tmp``.

    ``scan`` (e.g. "250ms") replaces the scan period of the Modbus devices ``scan_devices``.
    """
    site = load_demo()
    sections = dict(site.sections)
    sections["hmi"] = _check("hmi.schema", {"port": free_port(), "refresh": "250ms", **(hmi or {})}, "hmi")
    business = dict(sections["business"])
    business["web"] = dict(business.get("web") or {}, enabled=business_web, port=free_port())
    business["database"] = {"url": f"sqlite:///{tmp / 'business.db'}", "threads": None}
    seed = dict(business["seed"])
    seed["users"] = list(seed["users"]) + [{"username": VIEWER[0], "password": VIEWER[1], "display_name": "viewer",
                                             "grants": [("viewer", "property:harbour-view")], "unit": None}]
    business["seed"] = seed
    sections["business"] = business
    if historian:
        sections["historian"] = _check("tagdb.historian.schema",
                                       {"sinks": {"local": {"type": "embedded"}}, "query_sink": "local"}, "historian")
    site = dataclasses.replace(site, sections=MappingProxyType(sections))
    if scan:
        site = _faster_scans(site, scan, scan_devices)
    return site


def _faster_scans(site, scan: str, names: tuple[str, ...]):
    from tagdb.site.schema import Duration
    seconds = Duration().check(scan, "scan", Loc("test"))[0]
    devices = {name: dataclasses.replace(d, scan_groups=MappingProxyType({k: seconds for k in d.scan_groups}))
               if name in names else d for name, d in site.devices.items()}
    return dataclasses.replace(site, devices=MappingProxyType(devices))


class Demo:
    """A running demo tree: ``url`` of the HMI, ``ctx``, the simulator ``hub``."""

    def __init__(self, root) -> None:
        self.root = root
        self.ctx = root.context
        self.hub = self.ctx.provides["simulators"]
        self.url = self.ctx.provides["hmi_url"]

    async def stop(self) -> None:
        await wait(self.root.stopService())


async def start_demo(tmp: Path, **kw) -> Demo:
    """Build and start the demo tree (see the module docstring)."""
    from tagdb.server.root import build_root, make_context
    from twisted.internet import reactor
    site = demo_site(tmp, **kw)
    ctx = make_context(site, reactor, tmp)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp, context=ctx)
    await wait(root.startService())
    return Demo(root)


async def login(page, url: str, user: str, password: str, then: str = "Overview") -> None:
    """Open the HMI and sign in; waits for the main frame."""
    await page.goto(url)
    await page.get_by_role("button", name="Log in").wait_for(timeout=30000)
    inputs = page.locator("input")
    await inputs.nth(0).fill(user)
    await inputs.nth(1).fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name=then).first.wait_for(timeout=30000)
