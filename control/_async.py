"""Running coroutines from reactor callbacks on the one shared event loop."""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from twisted.internet.defer import Deferred


def start(coro: Coroutine[Any, Any, Any]) -> Deferred:
    """Start ``coro`` now and return a Deferred of its result.

    Collectors await asyncio futures (pymodbus, asyncua), which a coroutine
    driven by ``Deferred.fromCoroutine`` cannot; so when an asyncio loop is
    running the coroutine becomes an asyncio task. Without one (a unit test
    driving a ``task.Clock`` by hand) Twisted drives it.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return Deferred.fromCoroutine(coro)
    return Deferred.fromFuture(asyncio.ensure_future(coro))


async def wait(d: Deferred) -> Any:
    """Await a Deferred from either kind of coroutine (asyncio task or Twisted-driven)."""
    try:
        loop = asyncio.get_running_loop()
        in_task = asyncio.current_task() is not None
    except RuntimeError:
        in_task = False
    if in_task:
        return await d.asFuture(loop)
    return await d


def sleep(clock: Any, seconds: float) -> Deferred:
    """A Deferred that fires after ``seconds`` on the injected clock (cancellable)."""
    d: Deferred = Deferred(lambda _d: call.cancel() if call.active() else None)
    call = clock.callLater(seconds, lambda: d.called or d.callback(None))
    return d
