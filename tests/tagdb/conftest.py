"""Fixtures of the tag database tests: an injected clock at a realistic UTC time."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from twisted.internet.task import Clock

from tagdb.site.model import Deadband, TagSpec

#: 2026-03-01 08:00:00.123456 UTC, in seconds.
START = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> Clock:
    """A Twisted Clock set to START."""
    c = Clock()
    c.advance(START.timestamp())
    return c


def spec(path: str, data_type: str = "float64", device: str | None = "plc-1", **kw) -> TagSpec:
    """A TagSpec with test defaults (address derived from the path)."""
    return TagSpec(path=path, data_type=data_type, device=device, address=kw.pop("address", "hr:0"), **kw)


def deadband(value: float, percent: bool = False) -> Deadband:
    """Shorthand for a Deadband."""
    return Deadband(value, percent)


def run(coro):
    """Drive a coroutine that never suspends (its awaits complete at once) to its result."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    coro.close()
    raise AssertionError("coroutine suspended; use Deferred.fromCoroutine and fire what it waits on")
