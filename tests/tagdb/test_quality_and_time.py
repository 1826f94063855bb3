"""Quality transitions and timestamps: what operators and the historian rely on."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tagdb.database import TagDatabase
from tagdb.errors import TagTypeError, UnknownTagError
from tagdb.values import (BAD_COMM_FAILURE, BAD_NOT_YET_READ, BAD_SENSOR_FAILURE, GOOD, UNCERTAIN,
                          Quality, TagValue, datetime_to_ns)

from .conftest import START, deadband, spec


@pytest.fixture
def db(clock):
    return TagDatabase([spec("plc/t1", deadband=deadband(0.5)), spec("plc/t2"),
                        spec("plc/s", "string"), spec("other/t", device="plc-2")], clock)


def test_not_yet_read_then_good_then_comm_failure_keeps_value_then_good(db, clock):
    seen = []
    db.subscribe("plc/**", seen.append)
    ids = db.ids(["plc/t1", "plc/t2"])
    assert db.get("plc/t1").quality == BAD_NOT_YET_READ

    db.ingest(ids, [21.5, 3.0])
    clock.advance(0)
    assert [tv.quality for tv in seen[-1]] == [GOOD, GOOD]

    clock.advance(10)
    failed_at = clock.seconds()
    assert db.set_quality("plc-1", BAD_COMM_FAILURE.with_detail("timeout after 2.0 s")) == 3
    clock.advance(0)
    batch = {tv.path: tv for tv in seen[-1]}
    assert set(batch) == {"plc/t1", "plc/t2", "plc/s"}   # plc-2's tag untouched
    t1 = batch["plc/t1"]
    assert t1.value == 21.5                         # the last value stays
    assert t1.quality.code == BAD_COMM_FAILURE.code
    assert t1.quality.detail == "timeout after 2.0 s"
    assert t1.quality.is_bad
    assert t1.server_ts.timestamp() == pytest.approx(failed_at)
    assert t1.source_ts == t1.server_ts             # the failure's own moment, not the old sample's
    assert db.get("other/t").quality == BAD_NOT_YET_READ

    # Repeating the same failure publishes nothing.
    n = len(seen)
    assert db.set_quality("plc-1", BAD_COMM_FAILURE.with_detail("timeout after 2.0 s")) == 0
    clock.advance(0)
    assert len(seen) == n

    # Recovery: the same value inside the deadband is still a change (quality).
    db.ingest(ids, [21.6, 3.0])
    clock.advance(0)
    batch = {tv.path: tv for tv in seen[-1]}
    assert batch["plc/t1"].quality == GOOD and batch["plc/t1"].quality.detail == ""
    assert batch["plc/t1"].value == 21.6
    assert db.get("plc/t2").quality == GOOD


def test_a_new_detail_for_the_same_code_is_published(db, clock):
    db.set_quality(["plc/t1"], BAD_COMM_FAILURE.with_detail("timeout"))
    assert db.set_quality(["plc/t1"], BAD_COMM_FAILURE.with_detail("connection refused")) == 1
    assert db.get("plc/t1").quality.detail == "connection refused"


def test_set_quality_by_ids_and_unknown_device(db):
    assert db.set_quality(db.ids(["plc/t2"]), BAD_SENSOR_FAILURE) == 1
    assert db.get("plc/t2").quality == BAD_SENSOR_FAILURE
    assert db.set_quality("no-such-device", BAD_COMM_FAILURE) == 0


def test_source_timestamp_kept_server_timestamp_from_the_clock(db, clock):
    sampled = START - timedelta(seconds=3, microseconds=250)
    clock.advance(1.5)
    db.ingest(db.ids(["plc/t2"]), [7.0], GOOD.code, datetime_to_ns(sampled))
    tv = db.get("plc/t2")
    assert tv.source_ts == sampled                  # exact to the microsecond
    assert tv.server_ts == START + timedelta(seconds=1.5)
    assert tv.source_ts.tzinfo is timezone.utc and tv.server_ts.tzinfo is timezone.utc


def test_without_a_source_timestamp_the_server_time_is_used(db, clock):
    db.ingest(db.ids(["plc/t2"]), [7.0])
    tv = db.get("plc/t2")
    assert tv.source_ts == tv.server_ts == START


def test_a_filtered_sample_does_not_move_the_published_timestamps(db, clock):
    ids = db.ids(["plc/t1"])
    db.ingest(ids, [1.0])
    clock.advance(5)
    db.ingest(ids, [1.1])
    assert db.get("plc/t1").server_ts == START


def test_update_applies_tagvalues_with_deadband_and_keeps_details(db, clock):
    ts = datetime(2026, 3, 1, 7, 59, tzinfo=timezone.utc)
    assert db.update([TagValue("plc/t1", 10.0, GOOD, ts, ts),
                      TagValue("plc/s", "running", GOOD, ts, ts)]) == 2
    assert db.update([TagValue("plc/t1", 10.2, GOOD, ts, ts),
                      TagValue("plc/s", "running", GOOD, ts, ts)]) == 0
    bad = Quality(UNCERTAIN.code, "sensor drifting")
    assert db.update([TagValue("plc/t1", 10.2, bad, ts, ts)]) == 1
    tv = db.get("plc/t1")
    assert tv.value == 10.2   # a quality change publishes the sample that carried it
    assert tv.quality.detail == "sensor drifting"
    assert db.get("plc/s").value == "running"
    assert db.get("plc/s").source_ts == ts
    # Good quality drops the detail.
    db.update([TagValue("plc/t1", 12.0, Quality(GOOD.code, "ignored"), ts, ts)])
    assert db.get("plc/t1").quality.detail == ""


def test_update_with_none_clears_the_value(db):
    now = datetime.now(timezone.utc)
    db.update([TagValue("plc/t2", 5.0, GOOD, now, now)])
    assert db.update([TagValue("plc/t2", None, BAD_COMM_FAILURE, now, now)]) == 1
    assert db.get("plc/t2").value is None
    assert db.update([TagValue("plc/t2", None, BAD_COMM_FAILURE, now, now)]) == 0


def test_update_applies_the_good_values_then_reports_the_bad_ones(db):
    now = datetime.now(timezone.utc)
    with pytest.raises(UnknownTagError, match="nope"):
        db.update([TagValue("plc/t2", 5.0, GOOD, now, now), TagValue("nope", 1.0, GOOD, now, now)])
    assert db.get("plc/t2").value == 5.0
    with pytest.raises(TagTypeError, match="plc/t1"):
        db.update([TagValue("plc/t1", "abc", GOOD, now, now), TagValue("plc/s", "ok", GOOD, now, now)])
    assert db.get("plc/s").value == "ok"
    assert db.get("plc/t1").value is None


def test_naive_source_timestamp_is_refused(db):
    naive = datetime(2026, 1, 1)
    with pytest.raises(ValueError, match="naive"):
        db.update([TagValue("plc/t2", 1.0, GOOD, naive, naive)])


def test_snapshot_is_taken_from_current_state(db, clock):
    db.ingest(db.ids(["plc/t1", "plc/t2"]), [1.0, 2.0])
    snap = db.snapshot(["plc/t1", "plc/t2"])
    assert {p: tv.value for p, tv in snap.items()} == {"plc/t1": 1.0, "plc/t2": 2.0}
    with pytest.raises(KeyError):
        db.snapshot(["plc/t1", "missing"])
    assert db.spec("plc/s").data_type == "string"
    with pytest.raises(KeyError):
        db.get("missing")


def test_update_with_an_unchanged_detail_publishes_nothing(db):
    now = datetime.now(timezone.utc)
    q = Quality(UNCERTAIN.code, "drifting")
    assert db.update([TagValue("plc/t2", 1.0, q, now, now)]) == 1
    assert db.update([TagValue("plc/t2", 1.0, q, now, now)]) == 0
    assert db.update([TagValue("plc/t2", 1.0, Quality(UNCERTAIN.code, "drifting more"), now, now)]) == 1


def test_update_accepts_numpy_and_python_numbers(db):
    import numpy as np
    now = datetime.now(timezone.utc)
    db.update([TagValue("plc/t1", np.float32(2.5), GOOD, now, now), TagValue("plc/t2", np.int64(7), GOOD, now, now)])
    assert db.get("plc/t1").value == 2.5 and db.get("plc/t2").value == 7.0


def test_update_without_a_source_timestamp_uses_the_server_time(db, clock):
    db.update([TagValue("plc/t2", 3.0, GOOD, None, None)])
    tv = db.get("plc/t2")
    assert tv.source_ts == tv.server_ts == START


def test_update_keeps_the_callers_order_between_numbers_and_none(db):
    now = datetime.now(timezone.utc)
    db.update([TagValue("plc/t2", 5.0, GOOD, now, now), TagValue("plc/t2", None, BAD_COMM_FAILURE, now, now)])
    assert db.get("plc/t2").value is None
    db.update([TagValue("plc/t2", None, BAD_COMM_FAILURE, now, now), TagValue("plc/t2", 6.0, GOOD, now, now)])
    assert db.get("plc/t2").value == 6.0
