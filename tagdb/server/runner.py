"""Run a site until a signal: the process-level half of the composition root.

``spms run``/``spms demo`` and the Twisted plugin both end up here: install the
asyncio reactor, build the service tree, start it once the event loop runs,
stop it in reverse on SIGINT/SIGTERM (bounded), force the exit on a second
signal.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable

from .errors import ComponentStartError
from .reactor import install_asyncio_reactor
from .root import DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, RootService, build_root
from .signals import ShutdownSignals

log = logging.getLogger("spms.server")

#: Exit status when start-up fails.
START_FAILED_STATUS = 1

#: How long a signal during the build may wait for the build to finish before the exit is forced.
BUILD_GRACE = 60.0


def shutdown_grace(root: RootService) -> float:
    """How long an orderly shutdown may take before the watchdog forces the exit."""
    return root.stop_timeout * max(1, len(list(root))) + 5.0


def announce(root: RootService, out=None) -> None:
    """Print where the running server can be reached (REST API, HMI when present)."""
    out = out or sys.stdout
    provides = root.context.provides
    print(f"spms: site {root.context.site.name!r} running", file=out)
    if provides.get("api_url"):
        print(f"spms: REST API  {provides['api_url']}  (try {provides['api_url']}/health)", file=out)
    if provides.get("hmi_url"):
        print(f"spms: HMI       {provides['hmi_url']}", file=out)
    if provides.get("business_web_url"):
        print(f"spms: manager   {provides['business_web_url']}", file=out)
    print("spms: press Ctrl-C to stop", file=out)
    out.flush()


def start_when_running(reactor, root: RootService, on_started: Callable[[RootService], None],
                       on_failed: Callable[[ComponentStartError], None],
                       signals: ShutdownSignals | None = None) -> None:
    """Start ``root`` inside the running event loop.

    ``callWhenRunning`` fires before the asyncio loop runs (no running loop yet,
    which breaks asyncua and pymodbus); ``callLater(0)`` from there runs inside it.
    ``signals`` are (re)installed there, after the reactor installed its own.
    """

    def start() -> None:
        if signals is not None:
            signals.install()
        d = root.startService()
        if signals is not None:
            # A component may have installed handlers after its start (Panel's server does).
            d.addCallback(lambda r: (signals.install(), r)[1])
        # started_at stays None when a signal interrupted the start-up: nothing to announce.
        d.addCallbacks(lambda _: on_started(root) if root.started_at is not None else None,
                       lambda f: on_failed(f.value))
        d.addErrback(lambda f: log.error("start-up callback failed: %s", f.getTraceback()))

    reactor.callWhenRunning(reactor.callLater, 0, start)
    # Whoever stops the reactor, the tree is stopped first (stopService is idempotent).
    reactor.addSystemEventTrigger("before", "shutdown", root.stopService)


def run_site(site, data_dir: Path | str, *, api_port: int | None = None,
             on_started: Callable[[RootService], None] = announce,
             start_timeout: float = DEFAULT_START_TIMEOUT, stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
    """Run ``site`` until SIGINT/SIGTERM; returns the process exit status.

    Raises :class:`~tagdb.server.errors.ComponentBuildError` when the tree
    cannot be built (nothing has started then).
    """
    reactor = install_asyncio_reactor()
    from .root import make_context

    ctx = make_context(site, reactor, data_dir)
    if api_port is not None:
        ctx.provides["api_port"] = api_port
    status = [0]
    tree: list[RootService] = []

    def failed(error: ComponentStartError) -> None:
        print(f"spms: start-up failed: {error}", file=sys.stderr, flush=True)
        status[0] = START_FAILED_STATUS
        if reactor.running:
            reactor.stop()

    def shutdown() -> None:
        if not tree:
            return  # a signal during the build: run_site returns before starting anything
        d = tree[0].stopService()
        d.addBoth(lambda _: reactor.stop() if reactor.running else None)

    # Installed before the build (factories can take seconds: migrations, seeding), so a
    # signal then ends the run cleanly instead of killing the process mid-way.
    signals = ShutdownSignals(shutdown, reactor.callFromThread, grace=BUILD_GRACE)
    signals.install()
    try:
        root = build_root(site, reactor, data_dir, context=ctx, start_timeout=start_timeout,
                          stop_timeout=stop_timeout)
        if signals.received:
            log.info("stopped before start-up")
            return 0
        tree.append(root)
        signals.grace = shutdown_grace(root)
        start_when_running(reactor, root, on_started, failed, signals)
        reactor.run()
    finally:
        signals.uninstall()
    log.info("exiting with status %d", status[0])
    return status[0]
