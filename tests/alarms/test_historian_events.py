"""Alarm transitions become historian events (Grafana annotations) through the real historian."""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone

import pytest_twisted
from twisted.internet import reactor, task

from tagdb.server.root import Component, build_root, make_context
from tagdb.values import GOOD, TagValue

from .conftest import TEMP, make_site

COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("historian", "tagdb.historian.service", lambda s: True),
              Component("alarms", "alarms.service", lambda s: True))
CONFIG = """
historian:
  sinks:
    local: {type: embedded}
alarms:
  comm_alarms: false
"""


async def until(predicate, timeout=20.0):
    for _ in range(int(timeout / 0.05)):
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        await task.deferLater(reactor, 0.05, lambda: None)
    raise AssertionError("condition not reached")


@pytest_twisted.ensureDeferred
async def test_transitions_are_written_as_history_events(tmp_path):
    site = make_site(tmp_path / "site", CONFIG)
    ctx = make_context(site, reactor, tmp_path / "data")
    root = build_root(site, reactor, tmp_path / "data", components=COMPONENTS, context=ctx)
    await root.startService()
    try:
        start = datetime.now(timezone.utc) - timedelta(seconds=1)
        now = datetime.now(timezone.utc)
        ctx.tags.update([TagValue(TEMP, 9.9, GOOD, now, now)])
        engine = ctx.provides["alarms"]
        await until(lambda: engine.get(f"{TEMP}:H").state.value == "unack_active")
        engine.acknowledge(f"{TEMP}:H", "li.wei", "checked")
        history = ctx.provides["history"]

        async def two_events():
            end = datetime.now(timezone.utc) + timedelta(seconds=1)
            events = await history.events(start, end, [f"{TEMP}:H"])
            return events if len(events) == 2 else None

        events = await until(two_events)
        assert [e.state for e in events] == ["active", "acknowledged"]
        assert events[0].priority == "high" and events[0].kind == "alarm"
        assert "Chiller 1 supply temperature" in events[0].message
        assert events[1].user == "li.wei" and events[1].attributes.get("comment") == "checked"
    finally:
        await root.stopService()
