"""The ``api`` component: the twisted.web server of ``/api/v1``, started last.

It listens on ``server.api.address`` (default 127.0.0.1, never all interfaces
unless configured) and ``server.api.port``; port 0 picks a free port, which
:attr:`ApiService.port` reports after start. ``ctx.provides["api_port"]``
lets the runner (and ``spms run --api-port``) override the configured port.
"""

from __future__ import annotations

import logging
from typing import Any

from twisted.application.service import Service
from twisted.web.server import Site

from .routes import Root

log = logging.getLogger("spms.api")

try:
    from importlib.metadata import version as _dist_version

    VERSION = _dist_version("spms")
except Exception:  # running from a checkout without metadata
    VERSION = "0.0.0"


class ApiSite(Site):
    """The HTTP site; access lines go to the ``spms.api.access`` logger at DEBUG, not to INFO."""

    access_log = logging.getLogger("spms.api.access")

    def log(self, request) -> None:
        """Log one access line at DEBUG."""
        if self.access_log.isEnabledFor(logging.DEBUG):
            line = self._logFormatter(self._logDateTime, request)
            self.access_log.debug("%s", line)


class ApiService(Service):
    """Listens for REST requests while running."""

    def __init__(self, ctx: Any, address: str, port: int) -> None:
        self.ctx = ctx
        self.address = address
        self.configured_port = port
        self.port: int | None = None
        self._listener = None
        self.site = ApiSite(Root(ctx, VERSION), reactor=ctx.reactor)
        self.site.displayTracebacks = False
        self.site.noisy = False

    @property
    def url(self) -> str | None:
        """Base URL of the API (``http://127.0.0.1:8080/api/v1``) while listening."""
        if self.port is None:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/api/v1"

    def startService(self) -> None:
        # listenTCP raises CannotListenError at once (port in use): the root names this component.
        """Listen (CannotListenError names the address and port)."""
        self._listener = self.ctx.reactor.listenTCP(self.configured_port, self.site, interface=self.address)
        self.port = self._listener.getHost().port
        self.ctx.provides["api_url"] = self.url
        super().startService()
        log.info("REST API listening on %s", self.url)
        documented = {op.path.split("/")[1] for op in self.ctx.api_operations}
        for name in sorted(set(self.ctx.api_routes) - documented):
            log.warning("/api/v1/%s is served but not described in openapi.json "
                        "(pass operations= to ctx.mount_api)", name)

    def stopService(self):
        """Stop listening; open requests finish."""
        super().stopService()
        listener, self._listener = self._listener, None
        if listener is not None:
            return listener.stopListening()
        return None

    def health(self) -> dict:
        """Where the API listens (merged into /health)."""
        return {"url": self.url} if self.url else {}


def from_config(ctx: Any) -> ApiService:
    """The API service for ``ctx.site``'s ``server.api`` section (defaults when absent)."""
    server = ctx.site.section("server") or {}
    api = server.get("api") or {}
    port = ctx.provides.get("api_port")
    if port is None:
        port = api.get("port", 8080)
    service = ApiService(ctx, api.get("address") or "127.0.0.1", int(port))
    service.setName("api")
    return service
