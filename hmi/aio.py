"""Awaiting the project's mixed Twisted/asyncio coroutines from Panel callbacks.

Panel runs async callbacks as asyncio tasks; the command path, the business
login and history queries are coroutines that may await Deferreds *and* asyncio
futures. ``control._async.start`` drives such a coroutine on the shared loop
(the one place in the project that knows how); its Deferred is then awaited
here as an asyncio future.
"""

from __future__ import annotations

import asyncio
from typing import Any

from twisted.internet.defer import Deferred


async def run(awaitable: Any) -> Any:
    """The result of a coroutine or Deferred, awaited from inside an asyncio task."""
    from control._async import start

    if isinstance(awaitable, Deferred):
        d = awaitable
    elif asyncio.iscoroutine(awaitable):
        d = start(awaitable)
    else:
        return awaitable
    return await d.asFuture(asyncio.get_running_loop())
