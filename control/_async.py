"""Running coroutines from reactor callbacks on the one shared event loop.

Control coroutines await both worlds: Deferreds (timers on the injected
clock, the tag database's subscriptions) and, through ``tags.write``, the
collectors' asyncio futures (pymodbus, asyncua). A coroutine driven by
``Deferred.fromCoroutine`` cannot await a bare asyncio future and an asyncio
task cannot await a Deferred, so :func:`start` drives the coroutine itself:
each awaited Deferred or asyncio future resumes it when it fires. Nothing is
deferred that need not be: a coroutine that never blocks completes inside
``start`` (which keeps tests on a ``task.Clock`` synchronous and deterministic).
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure


def start(coro: Coroutine[Any, Any, Any]) -> Deferred:
    """Run ``coro`` now and return a Deferred of its result (cancelling it cancels the await)."""
    waiting: list[Any] = [None]

    def cancel(_d: Deferred) -> None:
        inner = waiting[0]
        if inner is not None:
            inner.cancel()
        else:
            coro.close()

    result: Deferred = Deferred(cancel)

    def step(value: Any = None, error: BaseException | None = None) -> None:
        waiting[0] = None
        try:
            yielded = coro.throw(error) if error is not None else coro.send(value)
        except StopIteration as stop:
            if not result.called:
                result.callback(stop.value)
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the Deferred, re-raised by its consumer
            if not result.called:
                result.errback(Failure(exc))
            return
        waiting[0] = yielded
        if isinstance(yielded, Deferred):
            # Deferred.__await__ reads the Deferred's own result when resumed, and
            # that result is still in place while this callback runs.
            yielded.addBoth(lambda _r: step())
        elif asyncio.isfuture(yielded):
            yielded._asyncio_future_blocking = False
            yielded.add_done_callback(lambda _f: step())
        else:
            step(error=RuntimeError(f"control coroutine yielded {yielded!r}, not a Deferred or future"))

    step()
    return result


async def wait(d: Deferred) -> Any:
    """Await a Deferred from any kind of coroutine (ours, Twisted-driven or an asyncio task)."""
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
