"""Helpers for tests that drive collectors and simulators over real loopback sockets.

Public so that other packages' tests (alarms, control, billing) can run the
simulated equipment the same way: ``aio_test`` runs an asyncio coroutine test
on the Twisted asyncio reactor, ``wait_until`` waits on a condition with a
timeout instead of sleeping a fixed time, ``wait_deferred`` awaits a Deferred
from such a task, ``free_port`` and ``start_smtp``
give loopback servers (a mail server for notification tests) a port of their own.
"""

from __future__ import annotations

import asyncio
import functools
import random
import socket
import time
from typing import Any, Callable


def aio_test(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate an ``async def`` test whose body awaits asyncio things (pymodbus, asyncua).

    pytest-twisted waits on Deferreds; a coroutine run by ``Deferred.fromCoroutine``
    cannot await bare asyncio futures, so the body runs as an asyncio task.
    """
    import pytest_twisted
    from twisted.internet.defer import Deferred

    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        return await Deferred.fromFuture(asyncio.ensure_future(fn(*args, **kwargs)))

    return pytest_twisted.ensureDeferred(wrapper)


async def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.01,
                     what: str = "condition") -> Any:
    """Poll ``condition()`` until truthy (returned) or raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(interval)


async def wait_deferred(d: Any) -> Any:
    """Await a Deferred (or return a plain value) from inside an asyncio task, e.g. an ``aio_test`` body."""
    from twisted.internet.defer import Deferred

    if isinstance(d, Deferred):
        return await d.asFuture(asyncio.get_running_loop())
    return d


_handed_out: set[int] = set()
_rng = random.SystemRandom()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now, never handed out twice by this process.

    It is picked below the kernel's ephemeral range: a port the kernel gives to
    ``bind(0)`` comes from the range outgoing connections use, and any of those
    (a database client, another test's client) could take it before the caller binds.
    """
    from collectors.sim.demo import ephemeral_low

    top = ephemeral_low()
    for _ in range(200):
        port = _rng.randrange(20000, top) if top > 20001 else 0
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            port = s.getsockname()[1]
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free TCP port on {host} below {top}")


class SmtpInbox:
    """aiosmtpd handler keeping every delivered envelope in ``messages``."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        """Accept the message and keep its envelope (mail_from, rcpt_tos, content)."""
        self.messages.append(envelope)
        return "250 OK"


def start_smtp(port: int, host: str = "127.0.0.1"):
    """Start an aiosmtpd server on ``host:port``; return (its controller, its ``SmtpInbox``).

    The caller stops it with ``controller.stop()``. aiosmtpd is a test-only
    dependency, so it is imported here rather than at module level.
    """
    from aiosmtpd.controller import Controller

    inbox = SmtpInbox()
    controller = Controller(inbox, hostname=host, port=port)
    controller.start()
    return controller, inbox
