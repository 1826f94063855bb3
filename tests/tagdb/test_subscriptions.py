"""Subscriptions: one batch per subscriber per reactor turn, glob and prefix membership."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tagdb.database import TagDatabase
from tagdb.errors import PatternError

from .conftest import spec

PATHS = ([f"tower-a/elevator-{e}/{t}" for e in range(1, 11) for t in ("current_floor", "load_kg", "door_open")]
         + [f"tower-b/ahu-{a}/supply_temp" for a in range(1, 6)]
         + ["tower-a/meter/kwh", "plant/chiller-1/supply_temp"])


@pytest.fixture
def db(clock):
    return TagDatabase([spec(p) for p in PATHS], clock)


@pytest.mark.parametrize("pattern, expected", [
    ("tower-a/*/current_floor", [f"tower-a/elevator-{e}/current_floor" for e in range(1, 11)]),
    ("tower-a/elevator-?/door_open", [f"tower-a/elevator-{e}/door_open" for e in range(1, 10)]),
    ("tower-b/", [f"tower-b/ahu-{a}/supply_temp" for a in range(1, 6)]),
    ("**/supply_temp", [f"tower-b/ahu-{a}/supply_temp" for a in range(1, 6)] + ["plant/chiller-1/supply_temp"]),
    ("tower-a/**/kwh", ["tower-a/meter/kwh"]),
    ("tower-a/meter/kwh", ["tower-a/meter/kwh"]),
    ("tower-a/*", []),          # '*' stays inside one segment
    ("tower", []),              # neither a prefix nor a path
    ("tower-a/elevator-1", []),  # a prefix needs its trailing '/'
])
def test_match(db, pattern, expected):
    assert db.match(pattern) == expected


def test_malformed_pattern(db):
    with pytest.raises(PatternError):
        db.match("a/x**/b")
    with pytest.raises(PatternError):
        db.subscribe("", lambda batch: None)


def test_one_thousand_changes_in_one_turn_give_one_callback_per_subscriber(clock):
    paths = [f"b{b}/dev{d}/t{t}" for b in range(2) for d in range(10) for t in range(50)]
    db = TagDatabase([spec(p) for p in paths], clock)
    calls: dict[str, list] = {"all": [], "b0": [], "floor": [], "none": []}
    db.subscribe("**", calls["all"].append)
    db.subscribe("b0/", calls["b0"].append)
    db.subscribe("b1/dev3/*", calls["floor"].append)
    db.subscribe("nowhere/", calls["none"].append)
    ids = db.ids(paths)
    # Ten separate ingests in the same turn, 100 tags each.
    for k in range(10):
        db.ingest(ids[k * 100:(k + 1) * 100], np.full(100, float(k)))
    assert all(not v for v in calls.values())   # nothing before the turn ends
    clock.advance(0)
    assert len(calls["all"]) == 1 and len(calls["all"][0]) == 1000
    assert len(calls["b0"]) == 1 and {tv.path for tv in calls["b0"][0]} == set(paths[:500])
    assert len(calls["floor"]) == 1
    assert {tv.path for tv in calls["floor"][0]} == {f"b1/dev3/t{t}" for t in range(50)}
    assert calls["none"] == []
    # TagValue objects are built once and shared between subscribers.
    by_path = {tv.path: tv for tv in calls["all"][0]}
    assert all(tv is by_path[tv.path] for tv in calls["b0"][0])
    # The batch is in tag order and each value is the one ingested.
    assert [tv.path for tv in calls["all"][0]] == paths
    assert by_path["b1/dev9/t49"].value == 9.0
    clock.advance(0)
    assert len(calls["all"]) == 1   # no changes, no callback


def test_a_tag_changed_twice_in_one_turn_is_delivered_once_with_its_latest_value(db, clock):
    seen = []
    db.subscribe("tower-a/meter/kwh", seen.append)
    ids = db.ids(["tower-a/meter/kwh"])
    db.ingest(ids, [1.0])
    db.ingest(ids, [2.0])
    clock.advance(0)
    assert [[tv.value for tv in batch] for batch in seen] == [[2.0]]


def test_cancel_stops_delivery_and_is_idempotent(db, clock):
    seen = []
    sub = db.subscribe("tower-b/", seen.append)
    assert db.subscriber_count == 1
    sub.cancel()
    sub.cancel()
    assert db.subscriber_count == 0
    db.ingest(db.ids(["tower-b/ahu-1/supply_temp"]), [18.0])
    clock.advance(0)
    assert seen == []


def test_cancel_from_inside_a_callback_stops_later_subscribers_in_the_same_turn(db, clock):
    second = []
    subs = {}

    def first(batch):
        subs["second"].cancel()

    db.subscribe("**", first)
    subs["second"] = db.subscribe("**", second.append)
    db.ingest(db.ids(["tower-a/meter/kwh"]), [1.0])
    clock.advance(0)
    assert second == []


def test_a_raising_callback_is_logged_once_and_others_still_receive(db, clock, caplog):
    got = []
    broken_now = [True]

    def flaky(batch):
        if broken_now[0]:
            raise RuntimeError("subscriber bug")

    db.subscribe("**", flaky)
    db.subscribe("**", got.append)
    ids = db.ids(["tower-a/meter/kwh"])
    with caplog.at_level(logging.INFO, logger="tagdb.subscriptions"):
        for k in range(3):
            db.ingest(ids, [float(k)])
            clock.advance(0)
        broken_now[0] = False
        db.ingest(ids, [10.0])
        clock.advance(0)
    assert len(got) == 4
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "subscriber bug" in caplog.text   # the outage once, with its traceback
    assert [r.levelno for r in caplog.records if "works again" in r.getMessage()] == [logging.INFO]


def test_tags_added_later_join_matching_subscriptions(db, clock):
    seen = []
    db.subscribe("tower-c/", seen.append)
    db.subscribe("tower-a/meter/kwh", lambda batch: None)
    db.add_tags([spec(f"tower-c/new-{i}") for i in range(2000)])   # forces the columns to grow
    db.ingest(db.ids(["tower-c/new-1999", "tower-a/meter/kwh"]), [5.0, 6.0])
    clock.advance(0)
    assert [[tv.path for tv in b] for b in seen] == [["tower-c/new-1999"]]
    assert db.get("tower-a/meter/kwh").value == 6.0


def test_initial_delivers_current_values_once_on_the_next_turn(db, clock):
    db.ingest(db.ids(["tower-a/meter/kwh"]), [42.0])
    clock.advance(0)
    seen = []
    db.subscribe("tower-a/meter/", seen.append, initial=True)
    assert seen == []
    clock.advance(0)
    assert [[(tv.path, tv.value) for tv in b] for b in seen] == [[("tower-a/meter/kwh", 42.0)]]


def test_initial_on_a_cancelled_subscription_delivers_nothing(db, clock):
    seen = []
    db.subscribe("**", seen.append, initial=True).cancel()
    clock.advance(0)
    assert seen == []


def test_unwatched_changes_build_no_tagvalues(db, clock, monkeypatch):
    built = []
    original = db._cols.build
    monkeypatch.setattr(db._cols, "build", lambda ids: built.append(len(ids)) or original(ids))
    db.subscribe("tower-b/", lambda batch: None)
    db.ingest(db.ids(["tower-a/meter/kwh", "tower-b/ahu-1/supply_temp"]), [1.0, 2.0])
    clock.advance(0)
    assert built == [1]


def test_a_mixed_batch_keeps_types_qualities_details_and_timestamps(clock):
    from datetime import datetime, timezone

    from tagdb.values import BAD_COMM_FAILURE, GOOD, UNCERTAIN, TagValue

    db = TagDatabase([spec("m/f"), spec("m/i", "int32"), spec("m/b", "bool"), spec("m/s", "string"),
                      spec("m/none"), spec("m/bad", device="plc-9")], clock)
    seen = []
    db.subscribe("m/", seen.append)
    ts = datetime(2026, 2, 1, 12, 0, 0, 5, tzinfo=timezone.utc)
    db.ingest(db.ids(["m/f", "m/i", "m/b", "m/bad"]), [1.25, 42.0, 1.0, 3.0], [0, 0, 0, UNCERTAIN.code],
              [1, 2, 3, 4_000])
    db.update([TagValue("m/s", "open", GOOD, ts, ts)])
    db.set_quality("plc-9", BAD_COMM_FAILURE.with_detail("no route to host"))
    clock.advance(0)
    (batch,) = seen
    got = {tv.path: (tv.value, tv.quality.code, tv.quality.detail, tv.source_ts) for tv in batch}
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    from .conftest import START
    assert got == {
        "m/f": (1.25, 0, "", epoch),
        "m/i": (42, 0, "", epoch),
        "m/b": (True, 0, "", epoch),
        "m/s": ("open", 0, "", ts),
        "m/bad": (3.0, BAD_COMM_FAILURE.code, "no route to host", START),
    }
    assert type(got["m/i"][0]) is int
    assert all(tv.server_ts == START for tv in batch)
    # Built TagValues are ordinary, equal, hashable, frozen dataclasses.
    tv = batch[0]
    assert tv == TagValue(tv.path, tv.value, tv.quality, tv.source_ts, tv.server_ts)
    assert hash(tv) == hash(TagValue(tv.path, tv.value, tv.quality, tv.source_ts, tv.server_ts))
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        tv.value = 2.0


def test_changes_made_by_a_subscriber_are_delivered_in_a_later_fan_out(db, clock):
    # An engine deriving one tag from another, inside its callback.
    events = []
    derived = db.ids(["tower-a/meter/kwh"])

    def engine(batch):
        events.append("engine start")
        db.ingest(derived, [batch[-1].value * 2])
        events.append("engine end")

    db.subscribe("tower-b/ahu-1/supply_temp", engine)
    db.subscribe("tower-a/meter/kwh", lambda batch: events.append(("kwh", [tv.value for tv in batch])))
    db.ingest(db.ids(["tower-b/ahu-1/supply_temp"]), [10.0])
    clock.advance(0)   # task.Clock also runs the callLater(0) scheduled meanwhile
    assert events == ["engine start", "engine end", ("kwh", [20.0])]
    assert db.stats.fan_outs == 2


def test_a_subscription_added_from_a_callback_starts_with_the_next_change(db, clock):
    late = []

    def subscribe_once(batch):
        if not late:
            late.append(db.subscribe("**", late.append))

    db.subscribe("**", subscribe_once)
    db.ingest(db.ids(["tower-a/meter/kwh"]), [1.0])
    clock.advance(0)
    assert len(late) == 1                  # only the handle: no delivery of the current turn
    db.ingest(db.ids(["tower-a/meter/kwh"]), [2.0])
    clock.advance(0)
    assert [[tv.value for tv in b] for b in late[1:]] == [[2.0]]


def test_match_sees_tags_added_after_an_earlier_match(db):
    assert db.match("tower-c/") == []
    db.add_tags([spec("tower-c/x")])
    assert db.match("tower-c/") == ["tower-c/x"]
    db.match("tower-c/").append("junk")          # callers get their own list
    assert db.match("tower-c/") == ["tower-c/x"]


def test_get_and_bulk_snapshot_agree_for_every_kind_of_tag(clock):
    from datetime import datetime, timezone

    from tagdb.values import BAD_COMM_FAILURE, GOOD, TagValue

    specs = [spec(f"k/f{i}") for i in range(6)] + [spec("k/i", "int16"), spec("k/b", "bool"),
                                                  spec("k/s", "string"), spec("k/none")]
    db = TagDatabase(specs, clock)
    ts = datetime(2026, 2, 1, tzinfo=timezone.utc)
    db.ingest(db.ids([f"k/f{i}" for i in range(6)] + ["k/i", "k/b"]), [float(i) for i in range(6)] + [3.0, 1.0])
    db.update([TagValue("k/s", "on", GOOD, ts, ts)])
    db.set_quality(["k/f2", "k/s"], BAD_COMM_FAILURE.with_detail("gone"))
    paths = [s.path for s in specs]
    bulk = db.snapshot(paths)                    # more than 8 tags: the column-wise builder
    assert len(bulk) == len(paths)
    for path in paths:
        assert db.get(path) == bulk[path]
        assert type(db.get(path).value) is type(bulk[path].value)
    assert bulk["k/f2"].quality.detail == "gone" and bulk["k/s"].value == "on"
