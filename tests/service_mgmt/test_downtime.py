"""Downtime from the tag history: the fault start to the last return of the key value to health,
read from the real embedded history store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest_twisted
from twisted.internet import reactor

from business.service_mgmt.schema import defaults
from business.service_mgmt.telemetry import Telemetry
from tagdb.historian.points import tag_rows
from tagdb.historian.sinks.embedded import EmbeddedSink
from tagdb.values import GOOD, TagValue

LIFT = "tower-a/elevator-1"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


@pytest_twisted.ensureDeferred
async def test_downtime_is_read_from_history(tmp_path):
    sink = EmbeddedSink("embedded", tmp_path / "history.db", reactor=reactor)
    try:
        path = f"{LIFT}/fault_code"
        trace = [(0, 1), (60, 0), (70, 2), (125, 0), (400, 0)]   # fixed, failed again, fixed for good
        await sink.write_points(tag_rows([TagValue(path, v, GOOD, T0 + timedelta(seconds=t),
                                                   T0 + timedelta(seconds=t)) for t, v in trace], seq0=1))
        rules = defaults({"alarm_rules": [{"alarms": [f"{LIFT}/fault_code:*"], "healthy":
                                           [{"tag": "fault_code", "max": 0}]}]})["alarm_rules"]
        tel = Telemetry(rules, history=sink)
        order = SimpleNamespace(number="WO-1", source="alarm", alarm_ids=[f"{path}:FAULT"], equipment_id=LIFT,
                                fault_at=T0)
        assert await tel.downtime_s(order, T0 + timedelta(hours=1)) == 125.0
        # no history for the tag: no figure (the caller falls back to the live healthy_since)
        other = SimpleNamespace(**{**vars(order), "equipment_id": "tower-b/elevator-1"})
        assert await tel.downtime_s(other, T0 + timedelta(hours=1)) is None
    finally:
        await sink.close()
