"""A loop's faceplate says why it is not controlling: its status in the operator's words, the interlock's message."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from twisted.internet.task import Clock

from hmi.faceplate import Faceplates
from hmi.live import LiveView
from tagdb.auth import Principal
from tagdb.database import TagDatabase
from tagdb.site.model import TagSpec
from tagdb.values import GOOD, TagValue

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)
BASE = "_system/control/loops/zone"
OPERATOR = Principal("op", frozenset({"operator"}), frozenset({"hmi.view", "hmi.command"}))


def _world(status: str, interlock: str):
    specs = [TagSpec("z/temp", "float32", "", ""), TagSpec("z/valve", "float32", "", "", access="rw")]
    specs += [TagSpec(f"{BASE}/{k}", "string", "", "") for k in ("mode", "status", "interlock")]
    specs += [TagSpec(f"{BASE}/{k}", "float64", "", "") for k in ("sp", "pv", "out")]
    clock = Clock()
    clock.advance(T0.timestamp())
    db = TagDatabase(specs, clock)
    db.update([TagValue(f"{BASE}/{k}", v, GOOD, T0, T0) for k, v in
               (("mode", "auto"), ("status", status), ("interlock", interlock), ("sp", 21.0), ("pv", 20.2),
                ("out", 0.0))])
    eq = SimpleNamespace(tags=("z/temp", "z/valve"))
    return db, eq


@pytest.mark.parametrize("lang, held, ok", [("en", "held by interlock", "controlling"), ("zh", "联锁保持", "自动调节中")])
def test_an_interlocked_loop_is_marked_abnormal_with_the_interlock_message(lang, held, ok):
    db, eq = _world("interlocked", "no airflow: fan stopped")
    plates = Faceplates(None, OPERATOR, db, {"zone": {"pv": "z/temp", "out": "z/valve"}}, lang)
    _items, blocks = plates.for_equipment(eq)
    live = LiveView(db, lang)
    live.show(blocks)
    html = blocks[0].pane.object
    status = re.search(rf'<span class="([^"]*)" data-path="{BASE}/status"[^>]*>([^<]*)', html)
    assert status and status.group(2) == held and "abn" in status.group(1).split()
    assert "no airflow: fan stopped" in html             # the interlock's own message, as configured
    db.update([TagValue(f"{BASE}/status", "ok", GOOD, T0, T0), TagValue(f"{BASE}/interlock", "", GOOD, T0, T0)])
    live.show(blocks)
    html = blocks[0].pane.object
    status = re.search(rf'<span class="([^"]*)" data-path="{BASE}/status"[^>]*>([^<]*)', html)
    assert status.group(2) == ok and "abn" not in status.group(1).split()
