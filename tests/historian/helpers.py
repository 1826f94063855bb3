"""Shared helpers of the historian tests: rows, times, and waiting on conditions without sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from twisted.internet import defer, task

from tagdb.historian.points import tag_rows
from tagdb.values import GOOD, Quality, TagValue

T0 = datetime(2026, 11, 1, 0, 0, tzinfo=timezone.utc)


def tv(path: str, value, ts: datetime, quality: Quality = GOOD) -> TagValue:
    """A tag value with source = server timestamp."""
    return TagValue(path, value, quality, ts, ts)


def rows(values, seq0: int = 1) -> list[tuple]:
    """Buffer rows (with sequence numbers) for tag values."""
    return [(seq0 + i, *r) for i, r in enumerate(tag_rows(values))]


async def wait_for(reactor, predicate, timeout: float = 30.0, step: float = 0.02, what: str = "condition"):
    """Poll ``predicate`` on the reactor until true; fail after ``timeout`` seconds."""
    deadline = reactor.seconds() + timeout
    while not predicate():
        if reactor.seconds() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await task.deferLater(reactor, step, lambda: None)


def at(seconds: float) -> datetime:
    """T0 plus seconds."""
    return T0 + timedelta(seconds=seconds)


__all__ = ["T0", "at", "rows", "tv", "wait_for", "defer"]
