"""The HMI's live layer without a browser: section schema, quality display, batched subscriptions."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from hmi import render
from hmi.live import Block, LiveView, health_path, patterns_for
from hmi.quality import BAD, GOOD, STALE, UNCERTAIN, WAITING, classify, show
from hmi.schema import SECTION, section_defaults
from tagdb.database import TagDatabase
from tagdb.site.errors import Loc
from tagdb.site.model import TagSpec
from tagdb.values import BAD_COMM_FAILURE, BAD_NOT_YET_READ, TagValue
from tagdb.values import GOOD as Q_GOOD
from tagdb.values import UNCERTAIN as Q_UNCERTAIN
from twisted.internet.task import Clock

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


def _tv(value, quality=Q_GOOD, path="a/b/c"):
    return TagValue(path, value, quality, T0, T0)


def test_section_defaults_and_refresh_bounds():
    clean, errors = SECTION.check({"port": 5011}, "hmi", Loc("site.yaml", 3))
    assert not errors and clean["address"] == "127.0.0.1" and clean["refresh"] == pytest.approx(0.3)
    _, errors = SECTION.check({"refresh": "1s"}, "hmi", Loc("site.yaml", 3))
    assert [e.field for e in errors] == ["hmi.refresh"] and "0.25-0.5" in errors[0].message
    _, errors = SECTION.check({"prot": 1, "language": "fr"}, "hmi", Loc("site.yaml", 3))
    assert {e.field for e in errors} == {"hmi.prot", "hmi.language"}
    assert section_defaults(None)["port"] == 5011


def test_quality_states_are_distinct_and_never_dress_a_stale_value_as_live():
    assert classify(None) == (WAITING, "no value")
    assert classify(_tv(None, BAD_NOT_YET_READ))[0] == WAITING
    assert classify(_tv(3.0, BAD_COMM_FAILURE.with_detail("timeout")))[0] == BAD
    assert classify(_tv(3.0, Q_UNCERTAIN))[0] == UNCERTAIN
    assert classify(_tv(3.0), device_connected=False)[0] == STALE
    assert classify(_tv(3.0), device_connected=True) == (GOOD, "")
    bad = render.value("a/b/c", show(_tv(21.5, BAD_COMM_FAILURE), "°C"))
    assert 'data-q="bad"' in bad and "21.5 °C" in bad and ">Bad<" in bad
    stale = render.value("a/b/c", show(_tv(21.5), "°C", device_connected=False))
    assert 'data-q="stale"' in stale and ">Stale<" in stale
    good = render.value("a/b/c", show(_tv(21.5), "°C"))
    assert 'data-q="good"' in good and "qb" not in good


def test_bar_marks_values_outside_the_normal_range_only():
    inside = render.bar("t", show(_tv(7.0)), 7.0, 0, 20, (None, 10.0))
    outside = render.bar("t", show(_tv(12.0)), 12.0, 0, 20, (None, 10.0))
    assert "abn" not in inside and 'class="norm"' in inside
    assert 'class="ptr abn"' in outside
    assert 'class="ptr' not in render.bar("t", show(_tv(12.0, BAD_COMM_FAILURE)), None, 0, 20, (None, 10.0))


def test_patterns_group_siblings_and_cover_every_path():
    paths = [f"tower-a/meter-{i}/power_kw" for i in range(50)] + ["plant/chiller-1/supply_temp", "solo"]
    pats = patterns_for(paths)
    assert pats == ["plant/chiller-1/supply_temp", "solo", "tower-a/*/power_kw"]


def _db():
    clock = Clock()
    specs = [TagSpec(f"b/m{i}/p", "float64", "dev-a", "hr:0") for i in range(30)]
    specs += [TagSpec("b/other/x", "float64", "dev-b", "hr:0"),
              TagSpec(health_path("dev-a"), "bool", None, None, access="rw")]
    return TagDatabase(specs, clock), clock


def test_live_view_subscribes_to_the_page_only_and_pushes_once_per_tick():
    db, clock = _db()
    renders = []

    def render_sum(v):
        renders.append(1)
        return f"{sum(v.number(f'b/m{i}/p') or 0 for i in range(30)):.1f}"
    block = Block([f"b/m{i}/p" for i in range(30)], render_sum)
    live = LiveView(db)
    live.show([block])
    assert live.subscription_count == 2            # b/*/p and the device health tag, not 30
    assert len(renders) == 1
    for i in range(30):
        db.update([TagValue(f"b/m{i}/p", float(i), Q_GOOD, T0, T0)])
    db.update([TagValue("b/other/x", 99.0, Q_GOOD, T0, T0)])
    clock.advance(0)                               # the database fans out once per reactor turn
    assert not live.values.current.get("b/other/x")
    assert live.tick() == 1 and len(renders) == 2   # 30 changes, one redraw
    assert block.pane.object == f"{sum(range(30)):.1f}"
    assert live.tick() == 0 and len(renders) == 2   # nothing new, nothing drawn
    live.close()
    db.update([TagValue("b/m1/p", 5.0, Q_GOOD, T0, T0)])
    clock.advance(0)
    assert live.tick() == 0


def test_device_disconnect_turns_good_values_stale():
    db, clock = _db()
    block = Block(["b/m0/p"], lambda v: render.value("b/m0/p", v.shown("b/m0/p")))
    live = LiveView(db)
    db.update([TagValue("b/m0/p", 1.5, Q_GOOD, T0, T0), TagValue(health_path("dev-a"), True, Q_GOOD, T0, T0)])
    clock.advance(0)
    live.show([block])
    assert 'data-q="good"' in block.pane.object
    db.update([TagValue(health_path("dev-a"), False, Q_GOOD, T0, T0)])
    clock.advance(0)
    live.tick()
    assert 'data-q="stale"' in block.pane.object and "1.5" in block.pane.object
