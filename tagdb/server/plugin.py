"""``twist spms --site SITE``: the Twisted plugin's options and service.

The plugin file (``twisted/plugins/spms_plugin.py``) only names this module, so
Twisted's plugin scan imports nothing heavy. Parsing the options installs the
asyncio reactor, which is early enough for ``twist spms`` to work with or
without ``--reactor=asyncio`` (twist installs its default reactor only after
the options are parsed). Any other ``--reactor`` is refused with a clear error.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from twisted.application.service import Service
from twisted.python import usage

from .errors import ComponentBuildError, ComponentStartError
from .reactor import ReactorError, install_asyncio_reactor
from .runner import START_FAILED_STATUS
from .root import DEFAULT_STOP_TIMEOUT, RootService, build_root, make_context


class TwistedLogHandler(logging.Handler):
    """Forwards the stdlib ``logging`` records of spms to Twisted's log (what twist writes out)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Forward one record."""
        from twisted.logger import Logger, LogLevel

        level = (LogLevel.critical if record.levelno >= logging.CRITICAL else
                 LogLevel.error if record.levelno >= logging.ERROR else
                 LogLevel.warn if record.levelno >= logging.WARNING else
                 LogLevel.info if record.levelno >= logging.INFO else LogLevel.debug)
        try:
            Logger(namespace=record.name).emit(level, "{message}", message=self.format(record))
        except Exception:
            self.handleError(record)


def route_logging_to_twisted() -> None:
    """Send spms's logging to twist's log once (twist filters by its own --log-level)."""
    root = logging.getLogger()
    if not any(isinstance(h, TwistedLogHandler) for h in root.handlers):
        root.addHandler(TwistedLogHandler())
        root.setLevel(logging.DEBUG)
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class Options(usage.Options):
    """Options of ``twist spms``."""

    synopsis = "--site SITE [--data-dir DIR] [--api-port N]"
    longdesc = ("Run an spms site (a YAML file or a folder of YAML files) under twist. "
                "Equivalent to `spms run SITE`.")
    optParameters = [
        ["site", "s", None, "site YAML file or folder of YAML files (required)"],
        ["data-dir", "d", None, "data folder (default: the site's data_dir next to the site)"],
        ["api-port", "p", None, "REST API port (overrides server.api.port; 0 = any free port)", int],
        ["stop-timeout", None, DEFAULT_STOP_TIMEOUT, "seconds each component gets to stop", float],
    ]

    def postOptions(self) -> None:
        """Install the asyncio reactor and load the site (UsageError listing its errors)."""
        if not self["site"]:
            raise usage.UsageError("--site is required")
        route_logging_to_twisted()
        try:
            self["reactor"] = install_asyncio_reactor()
        except ReactorError as exc:
            raise usage.UsageError(str(exc)) from None
        from ..cli.helpers import load_or_report

        path = Path(self["site"])
        site = load_or_report(path)
        if site is None:
            raise usage.UsageError(f"the site {path} has errors (listed above)")
        self["site_model"] = site
        if not self["data-dir"]:
            base = path if path.is_dir() else path.parent
            self["data-dir"] = str(base / site.data_dir)


class PluginService(Service):
    """Starts the service tree once the reactor runs, with spms's signal handling.

    twist calls ``startService`` before the reactor runs; the tree must start
    inside the running event loop, so the start is deferred. A start-up failure
    stops the reactor and makes twist exit with status 1.
    """

    name = "spms"

    def __init__(self, root: RootService) -> None:
        self.root = root

    def startService(self) -> None:
        """Schedule the tree's start inside the running event loop."""
        from .runner import announce, shutdown_grace, start_when_running
        from .signals import ShutdownSignals

        super().startService()
        reactor = self.root.context.reactor

        def failed(error: ComponentStartError) -> None:
            print(f"spms: start-up failed: {error}", file=sys.stderr, flush=True)
            # twist has no exit status of its own and swallows SystemExit raised in
            # triggers: once everything has stopped, leave with status 1 directly.
            reactor.addSystemEventTrigger("after", "shutdown", _exit_failed)
            reactor.stop()

        def shutdown() -> None:
            self.root.stopService().addBoth(lambda _: reactor.stop() if reactor.running else None)

        signals = ShutdownSignals(shutdown, reactor.callFromThread, grace=shutdown_grace(self.root))
        start_when_running(reactor, self.root, announce, failed, signals)

    def stopService(self):
        """Stop the tree in reverse (bounded)."""
        super().stopService()
        return self.root.stopService()


def _exit_failed() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(START_FAILED_STATUS)


def makeService(options: Options) -> PluginService:
    """The service twist runs."""
    site = options["site_model"]
    ctx = make_context(site, options["reactor"], options["data-dir"])
    if options["api-port"] is not None:
        ctx.provides["api_port"] = options["api-port"]
    try:
        root = build_root(site, options["reactor"], options["data-dir"], context=ctx,
                          stop_timeout=options["stop-timeout"])
    except ComponentBuildError as exc:
        raise SystemExit(f"spms: {exc}") from None
    return PluginService(root)
