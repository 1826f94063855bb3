"""One Modbus TCP connection per endpoint, shared by every unit id behind it.

pymodbus serialises requests on a client, so the link grants the connection to
one request at a time through a small priority gate: writes (priority 0) pass
queued polls (priority 1). Reconnects are attempted lazily, when a request needs
the connection, no sooner than a capped exponential backoff allows; the clock is
injected so backoff is testable and no task sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Any, Awaitable, Callable

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException

from ..errors import DeviceUnreachable
from . import responses

log = logging.getLogger(__name__)

WRITE, POLL = 0, 1
#: Consecutive unanswered requests after which pymodbus closes the connection (a dead endpoint);
#: fewer would let one silent unit behind a gateway disconnect its healthy neighbours.
NO_RESPONSES_BEFORE_CLOSE = 3


class PriorityGate:
    """A capacity-one lock whose waiters are served by priority, then arrival."""

    def __init__(self) -> None:
        self._busy = False
        self._waiters: list[tuple[int, int, asyncio.Future]] = []
        self._seq = itertools.count()

    @property
    def queued(self) -> int:
        """Requests waiting for the connection."""
        return len(self._waiters)

    async def acquire(self, priority: int) -> None:
        """Wait for the connection; lower ``priority`` values go first."""
        if not self._busy and not self._waiters:
            self._busy = True
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()   # granted while being cancelled: pass it on
            else:
                self._waiters = [w for w in self._waiters if w[2] is not fut]
                heapq.heapify(self._waiters)
            raise

    def release(self) -> None:
        """Hand the connection to the next waiter, or mark it free."""
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                return
        self._busy = False


class ModbusLink:
    """The shared TCP connection to ``host:port`` with timeouts, retries and backoff."""

    def __init__(self, host: str, port: int, clock: Any, timeout: float = 2.0, retries: int = 1,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, name: str = "") -> None:
        self.host, self.port = host, port
        self.name = name or f"{host}:{port}"
        self._clock = clock
        self._timeout = timeout
        self._retries = retries
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._delay = 0.0
        self._next_attempt = 0.0
        self._client: AsyncModbusTcpClient | None = None
        self._waiting: asyncio.Task | None = None     # the task awaiting a response, if any
        self._lost_flag = False
        self._gate = PriorityGate()
        self.last_error = ""
        self.connects = 0

    @property
    def connected(self) -> bool:
        """True while the TCP connection is up."""
        return self._client is not None and self._client.connected

    @property
    def queued(self) -> int:
        """Requests waiting for the connection."""
        return self._gate.queued

    def retry_in(self) -> float:
        """Seconds until the next reconnect attempt is allowed (0 = now)."""
        return max(0.0, self._next_attempt - self._clock.seconds())

    async def _ensure_connected(self) -> AsyncModbusTcpClient:
        if self.connected:
            return self._client
        now = self._clock.seconds()
        if now < self._next_attempt:
            raise DeviceUnreachable(f"{self.name}: not connected ({self.last_error}); "
                                    f"retry in {self._next_attempt - now:.1f} s")
        self._drop()

        def on_connect(up: bool) -> None:
            if not up:
                self._on_lost()

        # reconnect_delay=0 turns off pymodbus' own reconnect task: this link owns reconnects.
        client = AsyncModbusTcpClient(self.host, port=self.port, timeout=self._timeout,
                                      retries=self._retries, reconnect_delay=0, name=self.name,
                                      trace_connect=on_connect)
        responses.install(client)
        ok = await client.connect()
        if not ok or not client.connected:
            client.close()
            self._failed("connection refused or timed out")
            raise DeviceUnreachable(f"{self.name}: cannot connect ({self.last_error})")
        client.set_max_no_responses(NO_RESPONSES_BEFORE_CLOSE)
        self._client = client
        self._delay = 0.0
        self.connects += 1
        return client

    def _failed(self, why: str) -> None:
        self.last_error = why
        self._delay = self._backoff_initial if self._delay == 0 else min(self._delay * 2, self._backoff_max)
        self._next_attempt = self._clock.seconds() + self._delay

    def _drop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            client.close()

    async def call(self, priority: int, request: Callable[[AsyncModbusTcpClient], Awaitable[Any]]) -> Any:
        """Run ``request(client)`` when the connection is ours; DeviceUnreachable on comm failure.

        A response with ``isError()`` is returned as is (the caller maps exception codes).
        """
        await self._gate.acquire(priority)
        try:
            client = await self._ensure_connected()
            self._waiting, self._lost_flag = asyncio.current_task(), False
            try:
                return await request(client)
            except asyncio.CancelledError:
                if not self._lost_flag:
                    raise
                # Cancelled by _on_lost: the connection went away while we waited.
                asyncio.current_task().uncancel()
                self._drop()
                self._failed("connection lost")
                raise DeviceUnreachable(f"{self.name}: connection lost") from None
            except ModbusIOException as exc:
                # No answer in time (or one out of step) from this unit. Behind a gateway the
                # other units may be fine, so the connection stays up; pymodbus closes it
                # itself after several consecutive silences (a dead endpoint).
                self.last_error = str(exc) or "no response"
                if not self.connected:
                    self._failed(self.last_error)
                raise DeviceUnreachable(f"{self.name}: {self.last_error}") from exc
            except (ConnectionException, asyncio.TimeoutError, OSError) as exc:
                self._drop()
                self._failed(str(exc) or type(exc).__name__)
                raise DeviceUnreachable(f"{self.name}: {self.last_error}") from exc
            except Exception as exc:
                # A malformed frame may surface as anything from the decoder: the stream
                # can no longer be trusted, so the connection is dropped and re-made.
                self._drop()
                self._failed(f"protocol error: {type(exc).__name__}: {exc}")
                raise DeviceUnreachable(f"{self.name}: {self.last_error}") from exc
        finally:
            self._waiting = None
            self._gate.release()

    def _on_lost(self) -> None:
        """pymodbus saw the connection close: fail the waiting request now, not at its timeout."""
        task = self._waiting
        if task is not None and not task.done() and not self._lost_flag:
            self._lost_flag = True
            task.cancel()

    def close(self) -> None:
        """Close the connection (no reconnect until the next request)."""
        self._drop()
        self._delay = 0.0
        self._next_attempt = 0.0
