"""The service tree: one root service holding the context, children in dependency order.

Children are built by calling each package's factory in :data:`COMPONENTS`
order (sinks before sources, so a factory can use what earlier ones put in
``ctx.provides``), started one after the other, each waiting for the previous
one's start to finish, and stopped in reverse, each within a bounded time so
that shutdown never hangs.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred, TimeoutError, maybeDeferred

from ..auth import TokenAuthenticator
from .context import ServerContext
from .errors import ComponentBuildError, ComponentStartError
from .signals import preserve_signal_handlers

log = logging.getLogger("spms.server")

DEFAULT_START_TIMEOUT = 60.0
DEFAULT_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class Component:
    """One child of the root: its service name, factory module and when the site needs it.

    ``needed(site)`` says whether the site configures this component; a missing
    factory module is only acceptable when it does not (the package is not
    installed or not written yet).
    """

    name: str
    module: str
    needed: Callable[[Any], bool]
    factory: str = "from_config"


def _section(name: str) -> Callable[[Any], bool]:
    return lambda site: site.section(name) is not None


#: The children in start order. Stop order is the reverse.
COMPONENTS: tuple[Component, ...] = (
    Component("tagdb", "tagdb.service", lambda site: True),
    Component("database", "business.database", _section("business")),
    Component("historian", "tagdb.historian.service", _section("historian")),
    Component("alarms", "alarms.service", _section("alarms")),
    Component("control", "control.service", _section("control")),
    Component("simulators", "collectors.simulators_service", _section("simulators")),
    Component("collectors", "collectors.service", lambda site: bool(site.devices)),
    Component("hmi", "hmi.service", _section("hmi")),
    Component("business", "business.service", _section("business")),
    Component("api", "tagdb.api.service", lambda site: True),
)


class RootService(MultiService):
    """The named root of the service tree; holds the :class:`ServerContext`.

    ``startService`` returns a Deferred that fires when every child has
    started, or fails with :class:`ComponentStartError` naming the child that
    failed after the ones already started were stopped again in reverse.
    """

    def __init__(self, context: ServerContext, start_timeout: float = DEFAULT_START_TIMEOUT,
                 stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        super().__init__()
        self.setName("spms")
        self.context = context
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.states: dict[str, str] = {}
        self.started_at: float | None = None
        self._started: list[IService] = []
        self._starting: Deferred | None = None
        self._stopping: Deferred | None = None
        self._stop_requested = False
        self.start_error: ComponentStartError | None = None

    @property
    def clock(self):
        """The injected reactor (or ``task.Clock`` in tests)."""
        return self.context.reactor

    def add_component(self, service: IService) -> None:
        """Add a built child; its name must be unique."""
        service.setServiceParent(self)
        self.states[service.name] = "stopped"

    def uptime(self) -> float:
        """Seconds since start-up finished (0 before)."""
        return 0.0 if self.started_at is None else self.clock.seconds() - self.started_at

    def component_health(self) -> dict[str, dict]:
        """Per-child state, merged with the child's own ``health()`` dict when it has one."""
        out = {}
        for child in self:
            info = {"state": self.states.get(child.name, "stopped")}
            health = getattr(child, "health", None)
            if callable(health):
                try:
                    info.update(health())
                except Exception as exc:  # a broken health probe must not break /health
                    info.update(health_error=f"{type(exc).__name__}: {exc}")
            out[child.name] = info
        return out

    def startService(self) -> Deferred:
        """Start the children one by one in order (see the class docstring)."""
        Service.startService(self)  # not MultiService's: it would start every child at once
        self.start_error = None
        # _starting itself never fails, so any number of waiters can watch it.
        self._starting = Deferred.fromCoroutine(self._start_children())
        return _mirror(self._starting).addCallback(self._raise_start_error)

    def _raise_start_error(self, _):
        if self.start_error is not None:
            raise self.start_error

    async def _start_children(self) -> None:
        for child in list(self):
            if self._stop_requested:
                log.info("start-up interrupted before %s", child.name)
                return
            self.states[child.name] = "starting"
            log.info("starting %s", child.name)
            try:
                with preserve_signal_handlers():
                    d = maybeDeferred(child.startService)
                d.addTimeout(self.start_timeout, self.clock)
                await d
            except Exception as exc:
                self.states[child.name] = "failed"
                reason = (f"did not start within {self.start_timeout:g} s" if isinstance(exc, TimeoutError)
                          else f"{type(exc).__name__}: {exc}")
                log.error("component %r failed to start: %s", child.name, reason,
                          exc_info=not isinstance(exc, TimeoutError))
                await self._stop_children()
                self.running = 0
                self.start_error = ComponentStartError(child.name, reason)
                return
            self._started.append(child)
            self.states[child.name] = "running"
            log.info("started %s", child.name)
        self.started_at = self.clock.seconds()
        log.info("spms started: %s", ", ".join(c.name for c in self._started))

    def stopService(self) -> Deferred:
        """Stop the started children in reverse order, each within ``stop_timeout``."""
        self._stop_requested = True
        if self._stopping is None:
            self._stopping = Deferred.fromCoroutine(self._stop_all())
        return _mirror(self._stopping)

    async def _stop_all(self) -> None:
        if self._starting is not None and not self._starting.called:
            # The child being started finishes (or times out) first, so it is stopped too.
            waiter = _mirror(self._starting)
            waiter.addTimeout(self.start_timeout, self.clock)
            try:
                await waiter
            except Exception:
                log.debug("start-up ended with an error while stopping", exc_info=True)
        await self._stop_children()
        self.running = 0
        log.info("spms stopped")

    async def _stop_children(self) -> None:
        while self._started:
            child = self._started.pop()
            self.states[child.name] = "stopping"
            log.info("stopping %s", child.name)
            started = time.monotonic()
            try:
                d = maybeDeferred(child.stopService)
                d.addTimeout(self.stop_timeout, self.clock)
                await d
            except TimeoutError:
                self.states[child.name] = "failed"
                log.error("component %r did not stop within %g s; going on", child.name, self.stop_timeout)
                continue
            except Exception:
                self.states[child.name] = "failed"
                log.exception("component %r failed while stopping; going on", child.name)
                continue
            self.states[child.name] = "stopped"
            log.info("stopped %s (%.2f s)", child.name, time.monotonic() - started)


def _mirror(d: Deferred) -> Deferred:
    """A new Deferred that fires with ``d``'s result, leaving ``d`` untouched for others."""
    out: Deferred = Deferred()

    def relay(result):
        if hasattr(result, "raiseException"):
            out.errback(result)
        else:
            out.callback(result)
        return result

    d.addBoth(relay)
    return out


def make_context(site, reactor, data_dir: Path | str) -> ServerContext:
    """The shared context, with the API tokens of the site's ``server:`` section installed."""
    ctx = ServerContext(site=site, reactor=reactor, data_dir=Path(data_dir))
    ctx.auth = TokenAuthenticator(api_tokens(site))
    return ctx


def api_tokens(site) -> dict[str, dict]:
    """``server.api.tokens`` as ``{token: {user, permissions, roles}}`` (empty when unset)."""
    server = site.section("server") or {}
    api = server.get("api") or {}
    return dict(api.get("tokens") or {})


def build_root(site, reactor, data_dir: Path | str, *, components: Iterable[Component] | None = None,
               context: ServerContext | None = None, start_timeout: float = DEFAULT_START_TIMEOUT,
               stop_timeout: float = DEFAULT_STOP_TIMEOUT) -> RootService:
    """Build the service tree for ``site``: call every factory in order and add its service.

    Raises :class:`ComponentBuildError` naming the component whose factory is
    missing (while the site configures it) or failed.
    """
    ctx = context if context is not None else make_context(site, reactor, data_dir)
    Path(ctx.data_dir).mkdir(parents=True, exist_ok=True)
    root = RootService(ctx, start_timeout=start_timeout, stop_timeout=stop_timeout)
    ctx.provides.setdefault("root", root)
    for component in (COMPONENTS if components is None else components):
        factory = _load_factory(component, site)
        if factory is None:
            continue
        try:
            with preserve_signal_handlers():
                service = factory(ctx)
        except Exception as exc:
            raise ComponentBuildError(component.name, f"{type(exc).__name__}: {exc}") from exc
        if service is None:
            log.info("%s: not configured for this site (opted out)", component.name)
            continue
        if service.name is None:
            service.setName(component.name)
        elif service.name != component.name:
            raise ComponentBuildError(component.name, f"factory returned a service named {service.name!r}")
        root.add_component(service)
    return root


def _load_factory(component: Component, site) -> Callable | None:
    try:
        module = importlib.import_module(component.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not (component.module == missing or component.module.startswith(missing + ".")):
            raise ComponentBuildError(component.name, f"importing {component.module}: {exc}") from exc
        if component.needed(site):
            raise ComponentBuildError(
                component.name, f"module {component.module} is not installed but the site configures it") from exc
        log.info("%s: module %s not present and not configured; skipped", component.name, component.module)
        return None
    except Exception as exc:
        raise ComponentBuildError(component.name, f"importing {component.module}: {type(exc).__name__}: {exc}") from exc
    factory = getattr(module, component.factory, None)
    if not callable(factory):
        raise ComponentBuildError(component.name, f"{component.module} has no {component.factory}(ctx)")
    return factory
