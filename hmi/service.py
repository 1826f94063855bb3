"""The ``hmi`` component: the operator HMI served by Panel on the tag server's event loop.

Opts out when the site has no ``hmi:`` section (or ``enabled: false``).
Started after the collectors and before the business layer, so the tag
database, alarms, control and historian it shows are already running; the
business authenticator (``ctx.auth``) is looked up at login time, not at
build time. Publishes its URL as ``ctx.provides["hmi_url"]`` (printed by
``spms run``/``spms demo``) and itself as ``ctx.provides["hmi"]``.

One Panel server for the whole process: a component built before the HMI
starts may add ``{route: app_factory}`` to ``ctx.provides["panel_routes"]``;
the HMI's server then serves it at ``panel_base_url/<route>`` as well.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from tagdb.server.signals import preserve_signal_handlers
from twisted.application.service import Service

from .schema import section_defaults

log = logging.getLogger(__name__)

ROUTE = "hmi"


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


class HmiService(Service):
    """Runs the Panel server of the HMI (one ``pn.serve`` on the shared loop)."""

    def __init__(self, ctx: Any, section: dict) -> None:
        self.ctx = ctx
        self.section = section
        self.address = section["address"]
        self.port = int(section["port"])
        self.server = None
        self.app = None
        self.setName("hmi")

    @property
    def url(self) -> str:
        """Where operators open the HMI."""
        return f"http://{self.address}:{self.port}/{ROUTE}"

    def origins(self) -> list[str]:
        """Host names browsers may use for the websocket (the bound address, loopback names, configured ones)."""
        names = [f"{self.address}:{self.port}", f"127.0.0.1:{self.port}", f"localhost:{self.port}"]
        return list(dict.fromkeys(names + list(self.section.get("origins") or [])))

    def startService(self) -> None:
        """Build the app and start Panel on the running loop (Panel's SIGINT handler is undone)."""
        import panel as pn

        from .app import HmiApp

        super().startService()
        if self.port == 0:
            self.port = _free_port(self.address)
        self.app = HmiApp(self.ctx, self.section)
        # Other Panel apps (e.g. the business manager views) may register routes before the
        # HMI starts, so that one Panel server on the shared loop serves them all.
        routes = {ROUTE: self.app.page, **{k: v for k, v in (self.ctx.provides.get("panel_routes") or {}).items()
                                           if k != ROUTE}}
        with preserve_signal_handlers():
            self.server = pn.serve(routes, address=self.address, port=self.port,
                                   websocket_origin=self.origins(), show=False, start=False,
                                   title=self.section.get("title") or self.ctx.site.name)
        self.server.start()
        self.ctx.provides["hmi_url"] = self.url
        self.ctx.provides["panel_base_url"] = f"http://{self.address}:{self.port}"
        log.info("HMI at %s%s", self.url, "".join(f", /{r}" for r in routes if r != ROUTE))

    def stopService(self) -> None:
        """Close every session's subscriptions and stop the Panel server."""
        super().stopService()
        if self.app is not None:
            for session in list(self.app.sessions):
                session.close()
        if self.server is not None:
            self.server.stop()
            self.server = None

    def health(self) -> dict:
        """Sessions and their subscriptions, for ``/health``."""
        sessions = list(self.app.sessions) if self.app is not None else []
        return {"url": self.url, "sessions": len(sessions),
                "subscriptions": sum(s.live.subscription_count for s in sessions)}


def from_config(ctx: Any) -> HmiService | None:
    """The HMI service, or None when the site has no ``hmi:`` section or disables it."""
    raw = ctx.site.section("hmi")
    if raw is None:
        return None
    section = section_defaults(raw)
    if section.get("enabled") is False:
        return None
    service = HmiService(ctx, section)
    ctx.provides["hmi"] = service
    return service
